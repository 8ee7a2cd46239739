import { DeliveryProcessor } from '../../src/gateways/delivery.processor';
import { SecretDestructionService } from '../../src/revocation/secret-destruction.service';
import { RotationRunnerService as RotationRunner } from '../../src/rotation/rotation-runner.service';
import { RotationStepsService } from '../../src/rotation/rotation-steps.service';
import { credentialRows, expectStoreServesCurrent, liveVersions } from '../rotation/rotation-helpers';
import { Fixtures } from '../support/fixtures';
import { GatewayReceiver } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * The same unit of work run twice at once, by two processes on one database,
 * as happens when a job is taken back from a worker whose event loop froze
 * past its lock and that then carries on. Postgres makes the second run
 * harmless: every outcome is recorded by an update conditional on the state
 * it leaves, so each is recorded (and audited) once, and the outside calls
 * repeat harmlessly (a webhook under the same webhook-id, a store write of
 * the same version, a deletion of what is gone).
 */
describe('two runs of the same work at once', () => {
  let a: TestApp;
  let b: TestApp;
  let f: Fixtures;
  let product: { name: string };
  let agent: { id: string };
  let receiver: GatewayReceiver;
  let gatewayId: string;
  let answer = 204;

  beforeAll(async () => {
    // No worker anywhere: the test is both runs.
    a = await startTestApp({ roles: 'api' });
    b = await startTestApp({
      roles: 'api',
      database: a.database,
      env: { REDIS_PREFIX: a.redisPrefix, ADMIN_TOKEN: a.adminToken, LOCAL_STORE_KEY: a.env.LOCAL_STORE_KEY! },
    });
    // Slow enough that both runs' requests are in flight together.
    receiver = await GatewayReceiver.start(() => ({ status: answer, delayMs: 300 }));
    const res = await a.http.post('/v1/gateways', { name: 'gw', url: receiver.url, environments: ['production'] }, a.adminToken);
    expect(res.status).toBe(201);
    gatewayId = res.body.gateway.id;
    f = new Fixtures(a);
    ({ product, agent } = await f.world());
  });

  afterAll(async () => {
    await b?.close({ keepState: true });
    await a?.close();
    await receiver?.close();
  });

  const issuedDelivery = async (credentialId: string): Promise<{ id: string; event_id: string }> => {
    const [row] = await a.dataSource.query(
      `SELECT d.id, d.event_id FROM deliveries d JOIN outbox_events e ON e.id = d.event_id WHERE e.credential_id = $1 AND e.type = 'credential.issued'`,
      [credentialId],
    );
    return row;
  };
  const deliveryRow = async (id: string) =>
    (await a.dataSource.query('SELECT status, attempts, retry_step FROM deliveries WHERE id = $1', [id]))[0] as {
      status: string;
      attempts: number;
      retry_step: number;
    };
  /** The gateway's drain, one round in each process at once: each sends the pending delivery and records what it got. */
  const runDeliveryTwice = () =>
    Promise.all([a.app.get(DeliveryProcessor).drainOnce(gatewayId), b.app.get(DeliveryProcessor).drainOnce(gatewayId)]);
  const auditCount = async (targetId: string, action: string): Promise<number> =>
    (await a.dataSource.query('SELECT count(*)::int AS n FROM audit_events WHERE target_id = $1 AND action = $2', [targetId, action]))[0].n;

  it('a delivery acknowledged by both runs is recorded once, both requests under one webhook-id', async () => {
    answer = 204;
    const { credential } = await f.credential(agent.id, [`${product.name}:read`]);
    const delivery = await issuedDelivery(credential.id);
    const outcomes = await runDeliveryTwice();
    expect(outcomes.map((o) => o.delivered)).toEqual([1, 1]);
    expect(await deliveryRow(delivery.id)).toMatchObject({ status: 'delivered', attempts: 1, retry_step: 0 });
    const requests = receiver.events('credential.issued', credential.id);
    expect(requests).toHaveLength(2);
    expect(requests.map((r) => r.headers['webhook-id'])).toEqual([delivery.event_id, delivery.event_id]);
  });

  it('a delivery failed by both runs counts one failure: one step of the retry schedule, not two', async () => {
    answer = 503;
    const { credential } = await f.credential(agent.id, [`${product.name}:read`]);
    const delivery = await issuedDelivery(credential.id);
    const outcomes = await runDeliveryTwice();
    // Each run schedules a retry; only one failure is recorded.
    expect(outcomes.map((o) => o.retrying)).toEqual([1, 1]);
    expect(await deliveryRow(delivery.id)).toMatchObject({ status: 'pending', attempts: 1, retry_step: 1 });
    answer = 204;
  });

  it('a secret destroyed by both runs is recorded and audited once', async () => {
    const { credential } = await f.credential(agent.id, [`${product.name}:read`]);
    const revoked = await a.http.post(`/v1/credentials/${credential.id}/revoke`, { reason: 'twice' }, a.adminToken);
    expect(revoked.status).toBe(202);
    const outcomes = await Promise.all([
      a.app.get(SecretDestructionService).destroy(credential.id, 'run-a'),
      b.app.get(SecretDestructionService).destroy(credential.id, 'run-b'),
    ]);
    expect(outcomes.sort()).toEqual(['destroyed', 'skipped']);
    const [row] = await a.dataSource.query('SELECT secret_status, secret_attempts FROM revocation_credentials WHERE credential_id = $1', [
      credential.id,
    ]);
    expect(row).toEqual({ secret_status: 'destroyed', secret_attempts: 1 });
    expect(await auditCount(credential.id, 'credential.secret_destroyed')).toBe(1);
    const left = await a.dataSource.query(
      'SELECT count(*)::int AS n FROM local_secret_versions WHERE credential_id = $1 AND ciphertext IS NOT NULL',
      [credential.id],
    );
    expect(left[0].n).toBe(0);
  });

  it('a rotation run by both writes one version, records each step once and announces it once', async () => {
    const { credential } = await f.credential(agent.id, [`${product.name}:read`]);
    const accepted = await a.http.post(`/v1/credentials/${credential.id}/rotate`, {}, a.adminToken);
    expect(accepted.status).toBe(202);
    const outcomes = await Promise.all([
      a.app.get(RotationRunner).rotate(accepted.body.rotationId, 'run-a'),
      b.app.get(RotationRunner).rotate(accepted.body.rotationId, 'run-b'),
    ]);
    expect(outcomes.map((o) => o.kind)).toContain('completed');
    expect(outcomes.every((o) => o.kind === 'completed' || o.kind === 'skipped')).toBe(true);

    const [row] = await credentialRows(a.dataSource, [credential.id]);
    expect(row).toMatchObject({ status: 'active', secret_version: 2 });
    await expectStoreServesCurrent(a, [row]);
    expect((await liveVersions(a, row, {})).filter((v) => v.id === '2')).toEqual([{ id: '2', current: true, sha256: row.secret_sha256 }]);
    for (const action of ['rotation.published', 'credential.rotated'])
      expect({ action, n: await auditCount(credential.id, action) }).toEqual({ action, n: 1 });
    const events = await a.dataSource.query(
      `SELECT count(*)::int AS n FROM outbox_events WHERE credential_id = $1 AND type = 'credential.rotated'`,
      [credential.id],
    );
    expect(events[0].n).toBe(1);
  });

  it('a run that publishes after another run of its rotation completed it has raced, not failed', async () => {
    // The slow run of the case above, made deterministic: it loaded the rotation, then the other run published,
    // verified and promoted before this one recorded its write. CI once saw it end as 'failed' (credential moved).
    const { credential } = await f.credential(agent.id, [`${product.name}:read`]);
    const accepted = await a.http.post(`/v1/credentials/${credential.id}/rotate`, {}, a.adminToken);
    expect(accepted.status).toBe(202);
    const steps = b.app.get(RotationStepsService);
    const stale = (await steps.load(accepted.body.rotationId))!;
    expect(await a.app.get(RotationRunner).rotate(accepted.body.rotationId, 'run-a')).toEqual({ kind: 'completed' });
    const done = (await steps.load(accepted.body.rotationId))!;
    const late = await steps.publish(stale, { versionId: done.newVersionId!, ref: null, sha256: done.newSecretSha256! }, 'run-b');
    expect(late).toEqual({ kind: 'raced' });
    expect(await b.app.get(RotationRunner).rotate(accepted.body.rotationId, 'run-b')).toEqual({ kind: 'skipped' });
    for (const action of ['rotation.published', 'credential.rotated', 'rotation.failed'])
      expect({ action, n: await auditCount(credential.id, action) }).toEqual({ action, n: action === 'rotation.failed' ? 0 : 1 });
  });
});
