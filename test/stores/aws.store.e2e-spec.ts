import { randomUUID } from 'node:crypto';

import { AwsSecretsManagerStore, secretName } from '../../src/secret-stores/aws-secrets-manager.store';
import {
  SecretTarget,
  SecretVersionConflictError,
  SecretVersionIsCurrentError,
  SecretVersionNotFoundError,
} from '../../src/secret-stores/secret-store';
import { AwsSecretsManagerDouble } from '../doubles/aws-secrets-manager-double';
import { awsHarness, awsOptions, quietStoreLogs, stoppingDouble } from './harnesses';
import { describeStoreContract, newSecret, newTarget, rejection } from './store-contract';

quietStoreLogs();

let aws: AwsSecretsManagerDouble;

describeStoreContract('aws (double)', { faults: true }, async () => {
  aws = await new AwsSecretsManagerDouble().start();
  return stoppingDouble(await awsHarness({ endpoint: aws.url, double: aws }), aws);
});

describe('AwsSecretsManagerStore against the Secrets Manager double', () => {
  let double: AwsSecretsManagerDouble;
  const stores: AwsSecretsManagerStore[] = [];

  function storeWith(options: { recoveryWindowDays?: number } = {}): AwsSecretsManagerStore {
    const store = new AwsSecretsManagerStore(awsOptions({ endpoint: double.url, double, ...options }));
    stores.push(store);
    return store;
  }

  function stagesOf(target: SecretTarget): Record<string, string[]> {
    const secret = double.secret(secretName(target))!;
    return Object.fromEntries([...secret.versions].filter(([, v]) => v.stages.size).map(([id, v]) => [id, [...v.stages].sort()]));
  }

  beforeAll(async () => {
    double = await new AwsSecretsManagerDouble({ region: 'eu-west-1' }).start();
  });
  afterAll(async () => {
    for (const s of stores) s.close();
    await double.stop();
  });
  beforeEach(() => double.faults.clear());

  it('makes one tagged secret per credential, named agents/<agentId>/<credentialId>, with the ARN as ref', async () => {
    const store = storeWith();
    const target = newTarget();
    const stored = await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() });
    const secret = double.secret(`agents/${target.agentId}/${target.credentialId}`)!;
    expect(stored).toEqual({ ref: secret.arn, versionId: target.credentialId });
    expect(stored.ref).toMatch(/^arn:aws:secretsmanager:eu-west-1:123456789012:secret:agents\/.+-[A-Za-z]{6}$/);
    expect(Object.fromEntries(secret.tags)).toEqual({
      credential_id: target.credentialId,
      agent_id: target.agentId,
      owner_id: target.ownerId,
      environment: 'production',
    });
    const create = double.calls.find((c) => c.operation === 'secretsmanager.CreateSecret' && (c.body as any).Name === secretName(target));
    expect((create!.body as { ClientRequestToken: string }).ClientRequestToken).toBe(target.credentialId);
  });

  it('walks the stages: AWSPENDING on write, AWSCURRENT/AWSPREVIOUS on promote, no labels after retire', async () => {
    const store = storeWith();
    const target = newTarget();
    const v1 = await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() });
    const rotationId = randomUUID();
    const v2 = await store.writeVersion({ target, version: 2, requestToken: rotationId, secret: newSecret() });
    expect(v2.versionId).toBe(rotationId);
    expect(stagesOf(target)).toEqual({ [v1.versionId]: ['AWSCURRENT'], [v2.versionId]: ['AWSPENDING'] });
    await store.promoteVersion(target, v2.versionId, v1.versionId);
    expect(stagesOf(target)).toEqual({ [v1.versionId]: ['AWSPREVIOUS'], [v2.versionId]: ['AWSCURRENT'] });
    await store.destroyVersion(target, v1.versionId);
    expect(stagesOf(target)).toEqual({ [v2.versionId]: ['AWSCURRENT'] });
    const removal = double.calls.filter((c) => c.operation === 'secretsmanager.UpdateSecretVersionStage').at(-1)!.body;
    expect(removal).toEqual({ SecretId: secretName(target), VersionStage: 'AWSPREVIOUS', RemoveFromVersionId: v1.versionId });
  });

  it('refuses to destroy the AWSCURRENT version', async () => {
    const store = storeWith();
    const target = newTarget();
    const v1 = await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() });
    const error = await rejection(store.destroyVersion(target, v1.versionId));
    expect(error).toBeInstanceOf(SecretVersionIsCurrentError);
    expect(stagesOf(target)).toEqual({ [v1.versionId]: ['AWSCURRENT'] });
  });

  it('deletes without recovery by default, or schedules deletion when a recovery window is configured', async () => {
    const target = newTarget();
    const store = storeWith();
    await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() });
    await store.deleteAll(target);
    expect(double.calls.at(-1)!.body).toEqual({ SecretId: secretName(target), ForceDeleteWithoutRecovery: true });
    expect(double.secret(secretName(target))).toBeUndefined();

    const held = newTarget();
    const windowed = storeWith({ recoveryWindowDays: 7 });
    const v1 = await windowed.writeVersion({ target: held, version: 1, requestToken: held.credentialId, secret: newSecret() });
    await windowed.deleteAll(held);
    expect(double.calls.at(-1)!.body).toEqual({ SecretId: secretName(held), RecoveryWindowInDays: 7 });
    expect(double.secret(secretName(held))!.deletedDate).toBeDefined();
    await windowed.deleteAll(held);
    expect(await rejection(windowed.readVersion(held, v1.versionId))).toBeInstanceOf(SecretVersionNotFoundError);
    await windowed.destroyVersion(held, v1.versionId);
    const write = await rejection(windowed.writeVersion({ target: held, version: 2, requestToken: randomUUID(), secret: newSecret() }));
    expect(write).toBeInstanceOf(SecretVersionConflictError);
  });

  it('retries throttling (HTTP 400 ThrottlingException) with backoff and then succeeds', async () => {
    const store = storeWith();
    const target = newTarget();
    double.faults.failNext(2, 400, { type: 'ThrottlingException' });
    const before = double.count(/CreateSecret/);
    await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() });
    expect(double.count(/CreateSecret/) - before).toBe(3);
  });

  it('adopts its own first version when CreateSecret answers ResourceExists to a retry, and conflicts on another secret', async () => {
    const store = storeWith();
    const target = newTarget();
    const secret = newSecret();
    const first = await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret });
    // Some Secrets Manager implementations answer a repeated create with ResourceExists instead of ignoring it.
    double.faults.failNext(1, 400, { type: 'ResourceExistsException', match: (c) => c.operation === 'secretsmanager.CreateSecret' });
    expect(await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret })).toEqual(first);
    const other = await rejection(store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() }));
    expect(other).toBeInstanceOf(SecretVersionConflictError);
  });
});
