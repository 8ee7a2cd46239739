import { randomUUID } from 'node:crypto';

import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';

import { AwsSecretsManagerDouble } from './aws-secrets-manager-double';

/**
 * Proves the Secrets Manager double against docs/protocols.md "AWS Secrets Manager"
 * by driving it with the real AWS SDK v3 client, so adapter tests against it mean something.
 */
describe('AWS Secrets Manager double (JSON 1.1 protocol, through the AWS SDK v3)', () => {
  let aws: AwsSecretsManagerDouble;
  let sm: SecretsManagerClient;
  let n = 0;
  const name = () => `agents/a/${++n}-${randomUUID().slice(0, 8)}`;

  function client(options: { maxAttempts?: number; requestTimeout?: number } = {}): SecretsManagerClient {
    return new SecretsManagerClient({
      endpoint: aws.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: options.maxAttempts ?? 1,
      ...(options.requestTimeout ? { requestHandler: { requestTimeout: options.requestTimeout, throwOnRequestTimeout: true } } : {}),
    });
  }

  async function failure(promise: Promise<unknown>): Promise<{ name: string; status?: number; message: string; attempts?: number }> {
    try {
      await promise;
    } catch (error) {
      const e = error as { name: string; message: string; $metadata?: { httpStatusCode?: number; attempts?: number } };
      return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message, attempts: e.$metadata?.attempts };
    }
    throw new Error('expected the call to fail');
  }

  async function stages(id: string): Promise<Record<string, string[]>> {
    return (await sm.send(new DescribeSecretCommand({ SecretId: id }))).VersionIdsToStages ?? {};
  }

  beforeAll(async () => {
    aws = await new AwsSecretsManagerDouble().start();
    sm = client();
  });
  afterAll(async () => {
    sm.destroy();
    await aws.stop();
  });
  beforeEach(() => aws.faults.clear());

  describe('CreateSecret and ClientRequestToken', () => {
    it('creates a secret whose first version is AWSCURRENT, VersionId = ClientRequestToken, ARN with a 6-char suffix', async () => {
      const id = name();
      const token = randomUUID();
      const created = await sm.send(
        new CreateSecretCommand({ Name: id, ClientRequestToken: token, SecretString: 'v1', Tags: [{ Key: 'agent_id', Value: 'a' }] }),
      );
      expect(created.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:us-east-1:123456789012:secret:${id}-[A-Za-z]{6}$`));
      expect(created.VersionId).toBe(token);
      const got = await sm.send(new GetSecretValueCommand({ SecretId: id }));
      expect(got).toMatchObject({ SecretString: 'v1', VersionId: token, VersionStages: ['AWSCURRENT'], ARN: created.ARN });
      expect(got.CreatedDate).toBeInstanceOf(Date);
      const byArn = await sm.send(new DescribeSecretCommand({ SecretId: created.ARN }));
      expect(byArn.Tags).toEqual([{ Key: 'agent_id', Value: 'a' }]);
      expect(byArn.VersionIdsToStages).toEqual({ [token]: ['AWSCURRENT'] });
    });

    it('ignores a retried create (same token and value) and refuses any other with ResourceExistsException (HTTP 400)', async () => {
      const id = name();
      const token = randomUUID();
      await sm.send(new CreateSecretCommand({ Name: id, ClientRequestToken: token, SecretString: 'v1' }));
      const again = await sm.send(new CreateSecretCommand({ Name: id, ClientRequestToken: token, SecretString: 'v1' }));
      expect(again.VersionId).toBe(token);
      const other = await failure(sm.send(new CreateSecretCommand({ Name: id, ClientRequestToken: randomUUID(), SecretString: 'v1' })));
      expect(other).toMatchObject({ name: 'ResourceExistsException', status: 400 });
      const changed = await failure(sm.send(new CreateSecretCommand({ Name: id, ClientRequestToken: token, SecretString: 'v2' })));
      expect(changed.name).toBe('ResourceExistsException');
    });

    it('makes the same ClientRequestToken with the same value a no-op, with another value ResourceExistsException', async () => {
      const id = name();
      await sm.send(new CreateSecretCommand({ Name: id, ClientRequestToken: randomUUID(), SecretString: 'v1' }));
      const token = randomUUID();
      await sm.send(
        new PutSecretValueCommand({ SecretId: id, ClientRequestToken: token, SecretString: 'v2', VersionStages: ['AWSPENDING'] }),
      );
      const retried = await sm.send(
        new PutSecretValueCommand({ SecretId: id, ClientRequestToken: token, SecretString: 'v2', VersionStages: ['AWSPENDING'] }),
      );
      expect(retried.VersionId).toBe(token);
      const listed = await sm.send(new ListSecretVersionIdsCommand({ SecretId: id, IncludeDeprecated: true }));
      expect(listed.Versions).toHaveLength(2);
      const conflict = await failure(
        sm.send(new PutSecretValueCommand({ SecretId: id, ClientRequestToken: token, SecretString: 'other' })),
      );
      expect(conflict).toMatchObject({ name: 'ResourceExistsException', status: 400 });
    });
  });

  describe('staging labels', () => {
    it('moves AWSCURRENT on a plain put, and AWSPREVIOUS follows to the version it left', async () => {
      const id = name();
      const [t1, t2, t3] = [randomUUID(), randomUUID(), randomUUID()];
      await sm.send(new CreateSecretCommand({ Name: id, ClientRequestToken: t1, SecretString: 'v1' }));
      const put = await sm.send(new PutSecretValueCommand({ SecretId: id, ClientRequestToken: t2, SecretString: 'v2' }));
      expect(put.VersionStages).toEqual(['AWSCURRENT']);
      expect(await stages(id)).toEqual({ [t1]: ['AWSPREVIOUS'], [t2]: ['AWSCURRENT'] });
      await sm.send(new PutSecretValueCommand({ SecretId: id, ClientRequestToken: t3, SecretString: 'v3' }));
      // Each label sits on exactly one version; v1 is left without labels (deprecated).
      expect(await stages(id)).toEqual({ [t2]: ['AWSPREVIOUS'], [t3]: ['AWSCURRENT'] });
      const deprecated = await sm.send(new GetSecretValueCommand({ SecretId: id, VersionId: t1 }));
      expect(deprecated.VersionStages).toEqual([]);
    });

    it('runs the rotation protocol: AWSPENDING, then move AWSCURRENT naming the old one, then drop AWSPENDING', async () => {
      const id = name();
      const [t1, t2] = [randomUUID(), randomUUID()];
      await sm.send(new CreateSecretCommand({ Name: id, ClientRequestToken: t1, SecretString: 'v1' }));
      await sm.send(new PutSecretValueCommand({ SecretId: id, ClientRequestToken: t2, SecretString: 'v2', VersionStages: ['AWSPENDING'] }));
      expect((await sm.send(new GetSecretValueCommand({ SecretId: id }))).SecretString).toBe('v1');
      expect((await sm.send(new GetSecretValueCommand({ SecretId: id, VersionStage: 'AWSPENDING' }))).SecretString).toBe('v2');

      const unnamed = await failure(
        sm.send(new UpdateSecretVersionStageCommand({ SecretId: id, VersionStage: 'AWSCURRENT', MoveToVersionId: t2 })),
      );
      expect(unnamed).toMatchObject({ name: 'InvalidParameterException', status: 400 });
      expect(unnamed.message).toContain(t1);

      await sm.send(
        new UpdateSecretVersionStageCommand({ SecretId: id, VersionStage: 'AWSCURRENT', MoveToVersionId: t2, RemoveFromVersionId: t1 }),
      );
      expect(await stages(id)).toEqual({ [t1]: ['AWSPREVIOUS'], [t2]: ['AWSPENDING', 'AWSCURRENT'] });
      await sm.send(new UpdateSecretVersionStageCommand({ SecretId: id, VersionStage: 'AWSPENDING', RemoveFromVersionId: t2 }));
      expect(await stages(id)).toEqual({ [t1]: ['AWSPREVIOUS'], [t2]: ['AWSCURRENT'] });

      // Retiring: AWSPREVIOUS removed, the old version has no labels left.
      await sm.send(new UpdateSecretVersionStageCommand({ SecretId: id, VersionStage: 'AWSPREVIOUS', RemoveFromVersionId: t1 }));
      expect(await stages(id)).toEqual({ [t2]: ['AWSCURRENT'] });
    });

    it('refuses to remove AWSCURRENT without moving it, or a label from a version that lacks it', async () => {
      const id = name();
      const t1 = randomUUID();
      await sm.send(new CreateSecretCommand({ Name: id, ClientRequestToken: t1, SecretString: 'v1' }));
      const removeCurrent = await failure(
        sm.send(new UpdateSecretVersionStageCommand({ SecretId: id, VersionStage: 'AWSCURRENT', RemoveFromVersionId: t1 })),
      );
      expect(removeCurrent.name).toBe('InvalidParameterException');
      const notThere = await failure(
        sm.send(new UpdateSecretVersionStageCommand({ SecretId: id, VersionStage: 'AWSPREVIOUS', RemoveFromVersionId: t1 })),
      );
      expect(notThere.name).toBe('InvalidParameterException');
    });
  });

  describe('not found, deletion and tags', () => {
    it('answers a missing secret or version with ResourceNotFoundException as HTTP 400', async () => {
      const missing = await failure(sm.send(new GetSecretValueCommand({ SecretId: name() })));
      expect(missing).toMatchObject({ name: 'ResourceNotFoundException', status: 400 });
      const id = name();
      await sm.send(new CreateSecretCommand({ Name: id, SecretString: 'v1' }));
      const noVersion = await failure(sm.send(new GetSecretValueCommand({ SecretId: id, VersionId: randomUUID() })));
      expect(noVersion.name).toBe('ResourceNotFoundException');
    });

    it('force-deletes at once; a recovery window refuses all but Describe/Restore (InvalidRequestException)', async () => {
      const gone = name();
      await sm.send(new CreateSecretCommand({ Name: gone, SecretString: 'v1' }));
      const deleted = await sm.send(new DeleteSecretCommand({ SecretId: gone, ForceDeleteWithoutRecovery: true }));
      expect(deleted.DeletionDate).toBeInstanceOf(Date);
      expect((await failure(sm.send(new GetSecretValueCommand({ SecretId: gone })))).name).toBe('ResourceNotFoundException');
      expect((await failure(sm.send(new DeleteSecretCommand({ SecretId: gone, ForceDeleteWithoutRecovery: true })))).name).toBe(
        'ResourceNotFoundException',
      );

      const held = name();
      await sm.send(new CreateSecretCommand({ Name: held, SecretString: 'v1' }));
      const scheduled = await sm.send(new DeleteSecretCommand({ SecretId: held, RecoveryWindowInDays: 7 }));
      expect(scheduled.DeletionDate!.getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
      expect((await sm.send(new DescribeSecretCommand({ SecretId: held }))).DeletedDate).toBeInstanceOf(Date);
      for (const call of [
        sm.send(new GetSecretValueCommand({ SecretId: held })),
        sm.send(new PutSecretValueCommand({ SecretId: held, SecretString: 'v2' })),
        sm.send(new DeleteSecretCommand({ SecretId: held, ForceDeleteWithoutRecovery: true })),
        sm.send(new TagResourceCommand({ SecretId: held, Tags: [{ Key: 'k', Value: 'v' }] })),
        sm.send(new CreateSecretCommand({ Name: held, SecretString: 'v1' })),
      ]) {
        expect(await failure(call)).toMatchObject({ name: 'InvalidRequestException', status: 400 });
      }
      await sm.send(new RestoreSecretCommand({ SecretId: held }));
      expect((await sm.send(new GetSecretValueCommand({ SecretId: held }))).SecretString).toBe('v1');
    });

    it('validates DeleteSecret parameters (InvalidParameterException)', async () => {
      const id = name();
      await sm.send(new CreateSecretCommand({ Name: id, SecretString: 'v1' }));
      const both = await failure(
        sm.send(new DeleteSecretCommand({ SecretId: id, ForceDeleteWithoutRecovery: true, RecoveryWindowInDays: 7 })),
      );
      expect(both.name).toBe('InvalidParameterException');
      expect((await failure(sm.send(new DeleteSecretCommand({ SecretId: id, RecoveryWindowInDays: 3 })))).name).toBe(
        'InvalidParameterException',
      );
    });

    it('adds tags with TagResource and lists secrets a page at a time', async () => {
      const id = name();
      await sm.send(new CreateSecretCommand({ Name: id, SecretString: 'v1', Tags: [{ Key: 'a', Value: '1' }] }));
      await sm.send(new TagResourceCommand({ SecretId: id, Tags: [{ Key: 'b', Value: '2' }] }));
      expect((await sm.send(new DescribeSecretCommand({ SecretId: id }))).Tags).toEqual([
        { Key: 'a', Value: '1' },
        { Key: 'b', Value: '2' },
      ]);
      const page = await sm.send(new ListSecretsCommand({ MaxResults: 1 }));
      expect(page.SecretList).toHaveLength(1);
      expect(page.NextToken).toBeDefined();
    });
  });

  describe('protocol envelope and faults', () => {
    it('refuses unsigned requests and unknown operations', async () => {
      const unsigned = await fetch(aws.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.ListSecrets' },
        body: '{}',
      });
      expect(unsigned.status).toBe(400);
      expect(((await unsigned.json()) as { __type: string }).__type).toBe('MissingAuthenticationTokenException');
      const unknown = await fetch(aws.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'secretsmanager.Nope',
          authorization: 'AWS4-HMAC-SHA256 x',
        },
        body: '{}',
      });
      expect(((await unknown.json()) as { __type: string }).__type).toBe('UnknownOperationException');
    });

    it('answers 500 InternalServiceError, which the SDK retries (3 attempts by default)', async () => {
      const retrying = client({ maxAttempts: 3 });
      aws.faults.failNext(1, 500);
      const before = aws.count(/ListSecrets/);
      await retrying.send(new ListSecretsCommand({ MaxResults: 1 }));
      expect(aws.count(/ListSecrets/) - before).toBe(2);

      aws.faults.failNext(5, 500);
      const failed = await failure(retrying.send(new ListSecretsCommand({ MaxResults: 1 })));
      expect(failed).toMatchObject({ name: 'InternalServiceError', status: 500, attempts: 3 });
      retrying.destroy();
    });

    it('throttles with ThrottlingException (HTTP 400 as AWS does, or 429), which the SDK treats as retryable', async () => {
      aws.faults.failNext(1, 400, { type: 'ThrottlingException' });
      const throttled = await failure(sm.send(new ListSecretsCommand({ MaxResults: 1 })));
      expect(throttled).toMatchObject({ name: 'ThrottlingException', status: 400 });
      aws.faults.failNext(1, 429);
      expect(await failure(sm.send(new ListSecretsCommand({ MaxResults: 1 })))).toMatchObject({ name: 'ThrottlingException', status: 429 });
      const retrying = client({ maxAttempts: 2 });
      aws.faults.failNext(1, 429);
      await retrying.send(new ListSecretsCommand({ MaxResults: 1 }));
      retrying.destroy();
    });

    it('drops connections (no HTTP status at all) and adds latency the SDK can time out on', async () => {
      aws.faults.dropNext(1);
      const dropped = await failure(sm.send(new ListSecretsCommand({ MaxResults: 1 })));
      expect(dropped.status).toBeUndefined();

      const id = name();
      aws.faults.dropNext(1, { afterApplying: true });
      await failure(sm.send(new CreateSecretCommand({ Name: id, SecretString: 'v1' })));
      expect(aws.secret(id)).toBeDefined();

      aws.faults.latencyMs = 300;
      const impatient = client({ requestTimeout: 100 });
      const slow = await failure(impatient.send(new ListSecretsCommand({ MaxResults: 1 })));
      expect(slow.name).toBe('TimeoutError');
      impatient.destroy();
    });
  });
});
