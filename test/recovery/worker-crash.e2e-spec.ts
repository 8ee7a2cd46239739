import { setTimeout as sleep } from 'node:timers/promises';

import { JobQueues } from '../../src/common/jobs/job-queues';
import { deliveryJobId, GatewayQueue } from '../../src/gateways/delivery-jobs';
import { RevocationQueue, secretDestructionJobId } from '../../src/revocation/secret-destruction-jobs';
import { rotateJobId, rotationQueueName } from '../../src/rotation/rotation-jobs';
import { VaultDouble } from '../doubles/vault-double';
import { CompiledApp, WorkerProcess } from '../rotation/worker-process';
import { Fixtures } from '../support/fixtures';
import { eventually, GatewayReceiver, ReceivedWebhook } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

/** The promises under test, with the service's default lock, stall-check and sweep settings. */
const HELD_BOUND_MS = 10_000;
const LOST_BOUND_MS = 15_000;
/**
 * How long a held gateway or Vault call takes: far longer than any scenario
 * holds work before the kill, even on a loaded machine (the workers' own
 * timeouts are longer still), so the held work cannot finish or fail first.
 */
const HOLD_MS = 55_000;
const VAULT_HOLD_MS = 30_000;

/** A gateway double that can hold requests (answering late, with an error) and records each one as it arrives. */
class HoldingGateway {
  hold = false;
  readonly arrivals: Array<ReceivedWebhook & { at: number }> = [];
  receiver!: GatewayReceiver;
  id = '';

  static async start(): Promise<HoldingGateway> {
    const gateway = new HoldingGateway();
    gateway.receiver = await GatewayReceiver.start((request) => {
      gateway.arrivals.push({ ...request, at: Date.now() });
      return gateway.hold ? { status: 503, delayMs: HOLD_MS } : { status: 204 };
    });
    return gateway;
  }

  arrivalsOf(type: string, credentialId: string): number[] {
    return this.arrivals.filter((a) => a.json?.type === type && a.json?.data?.credentialId === credentialId).map((a) => a.at);
  }
}

/** One revocation (a Vault credential: two gateway deliveries and a secret destruction) and one rotation. */
interface Work {
  revoked: string;
  revocationId: string;
  rotated: string;
  rotationId: string;
  rotationStore: 'local' | 'vault';
}

/** When each unit of work finished (epoch ms, by the worker's clock, which is this machine's), or null while any is unfinished. */
type Finished = Record<string, number>;

/**
 * A worker process SIGKILLed while it holds webhook deliveries (two
 * gateways), a secret destruction and a rotation step, and committed work
 * whose jobs were lost between commit and enqueue. Recovery must be prompt:
 * what a dead worker held resumes within 10 s of a new worker's start (or of
 * the death, when another worker survives), and a committed rotation or
 * destruction without a job completes within 15 s of a restart. Each scenario
 * prints its measured times.
 */
describe('recovery from a worker crash', () => {
  jest.setTimeout(120_000);
  let compiled: CompiledApp;
  let vault: VaultDouble;
  let t: TestApp;
  let f: Fixtures;
  let product: { name: string };
  let agent: { id: string };
  const gateways: HoldingGateway[] = [];
  const workers: WorkerProcess[] = [];

  const startWorker = async (roles = 'worker'): Promise<{ worker: WorkerProcess; spawnedAt: number; readyAt: number }> => {
    const spawnedAt = Date.now();
    // The defaults under test: no lock, stall-check or sweep setting is overridden.
    const env = { ...t.env, LOG_LEVEL: 'warn', DATABASE_POOL_SIZE: '5', SECRET_STORE_TIMEOUT_MS: '60000', DELIVERY_TIMEOUT_MS: '60000' };
    const worker = await WorkerProcess.start(compiled, env, 60_000, roles);
    workers.push(worker);
    return { worker, spawnedAt, readyAt: Date.now() };
  };

  const jobs = () => t.app.get(JobQueues);

  /** A Vault credential to revoke and one to rotate, their `credential.issued` already acknowledged by both gateways. */
  const credentials = async (rotationStore: 'local' | 'vault'): Promise<{ revoked: string; rotated: string }> => {
    t.clock.set(new Date());
    const revoked = (await f.credential(agent.id, [`${product.name}:read`], { secretStore: 'vault' })).credential.id;
    const rotated = (await f.credential(agent.id, [`${product.name}:read`], { secretStore: rotationStore })).credential.id;
    await eventually(
      async () => (await t.dataSource.query(`SELECT count(*)::int AS n FROM deliveries WHERE status = 'pending'`))[0].n === 0,
      30_000,
      'the issued events delivered',
    );
    return { revoked, rotated };
  };

  const revokeAndRotate = async (ids: { revoked: string; rotated: string }, rotationStore: 'local' | 'vault'): Promise<Work> => {
    t.clock.set(new Date());
    const revocation = await t.http.post(`/v1/credentials/${ids.revoked}/revoke`, { reason: 'crash drill' }, t.adminToken);
    expect(revocation.status).toBe(202);
    t.clock.set(new Date());
    const rotation = await t.http.post(`/v1/credentials/${ids.rotated}/rotate`, {}, t.adminToken);
    expect(rotation.status).toBe(202);
    return { ...ids, revocationId: revocation.body.revocationId, rotationId: rotation.body.rotationId, rotationStore };
  };

  /** The ids of the jobs a unit of work runs under. */
  const jobIdsOf = async (work: Work) => {
    const deliveries: Array<{ event_id: string; gateway_id: string }> = await t.dataSource.query(
      `SELECT d.event_id, d.gateway_id FROM deliveries d JOIN outbox_events e ON e.id = d.event_id
        WHERE e.credential_id = $1 AND e.type = 'credential.revoked'`,
      [work.revoked],
    );
    expect(deliveries).toHaveLength(2);
    return {
      deliveries: deliveries.map((d) => deliveryJobId({ eventId: d.event_id, target: 'gateway', gatewayId: d.gateway_id })),
      destruction: secretDestructionJobId({ revocationId: work.revocationId, credentialId: work.revoked }),
      rotation: rotateJobId({ credentialId: work.rotated, toVersion: 2 }),
    };
  };

  const finished = async (work: Work): Promise<Finished | null> => {
    const deliveries: Array<{ status: string; delivered_at: Date | null; name: string }> = await t.dataSource.query(
      `SELECT d.status, d.delivered_at, g.name FROM deliveries d JOIN outbox_events e ON e.id = d.event_id JOIN gateways g ON g.id = d.gateway_id
        WHERE e.credential_id = $1 AND e.type = 'credential.revoked' ORDER BY g.name`,
      [work.revoked],
    );
    const [secret]: Array<{ secret_status: string; secret_destroyed_at: Date | null }> = await t.dataSource.query(
      'SELECT secret_status, secret_destroyed_at FROM revocation_credentials WHERE credential_id = $1',
      [work.revoked],
    );
    const [rotation]: Array<{ status: string; completed_at: Date | null }> = await t.dataSource.query(
      'SELECT status, completed_at FROM rotations WHERE id = $1',
      [work.rotationId],
    );
    if (
      deliveries.length !== 2 ||
      deliveries.some((d) => d.status !== 'delivered') ||
      secret?.secret_status !== 'destroyed' ||
      rotation?.status !== 'completed'
    ) {
      return null;
    }
    return {
      ...Object.fromEntries(deliveries.map((d) => [`delivery to ${d.name}`, d.delivered_at!.getTime()])),
      'secret destruction': secret.secret_destroyed_at!.getTime(),
      rotation: rotation.completed_at!.getTime(),
    };
  };

  const waitFinished = async (work: Work, timeoutMs: number): Promise<Finished> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const done = await finished(work);
      if (done) return done;
      if (Date.now() > deadline) {
        const states = await jobStates(work);
        throw new Error(`not finished after ${timeoutMs} ms; jobs: ${JSON.stringify(states)}`);
      }
      await sleep(100);
    }
  };

  const jobStates = async (work: Work) => {
    const ids = await jobIdsOf(work);
    return {
      deliveries: await Promise.all(ids.deliveries.map((id) => jobs().queue(GatewayQueue.Delivery).getJobState(id))),
      destruction: await jobs().queue(RevocationQueue.SecretDestruction).getJobState(ids.destruction),
      rotation: await jobs().queue(rotationQueueName(work.rotationStore)).getJobState(ids.rotation),
    };
  };

  /**
   * Every unit of work is active in Redis and its outside call is in flight: the gateway POSTs, and
   * the Vault calls (or, in a worker that has not used Vault yet, the token lookup both wait on).
   */
  const waitHeld = async (work: Work, vaultMark: number): Promise<void> => {
    const seen = async () => {
      const states = await jobStates(work);
      const calls = vault.calls.slice(vaultMark).map((c) => c.operation);
      const tokenStart = calls.some((op) => op.includes(' auth/token/'));
      return {
        states,
        arrivals: gateways.map((g) => g.arrivalsOf('credential.revoked', work.revoked).length),
        destructionCall: tokenStart || calls.some((op) => op.startsWith('GET secret/metadata/') && op.endsWith(work.revoked)),
        rotationCall: tokenStart || calls.some((op) => op.startsWith('POST secret/data/') && op.endsWith(work.rotated)),
      };
    };
    const deadline = Date.now() + 30_000;
    for (;;) {
      const now = await seen();
      const active = [...now.states.deliveries, now.states.destruction, now.states.rotation].every((s) => s === 'active');
      if (active && now.arrivals.every((n) => n === 1) && now.destructionCall && now.rotationCall) return;
      if (Date.now() > deadline) throw new Error(`the worker does not hold all the work: ${JSON.stringify(now)}`);
      await sleep(25);
    }
  };

  const hold = (on: boolean) => {
    for (const g of gateways) g.hold = on;
    vault.faults.latencyMs = on ? VAULT_HOLD_MS : 0;
  };

  /** One console line per scenario: each unit's finish, measured from each reference moment (the first one is asserted on). */
  const report = (scenario: string, done: Finished, from: Record<string, number>): Record<string, Record<string, number>> => {
    const table: Record<string, Record<string, number>> = {};
    for (const [ref, at] of Object.entries(from))
      table[ref] = Object.fromEntries(Object.entries(done).map(([unit, end]) => [unit, end - at]));
    const [firstRef, first] = Object.entries(table)[0];
    const rows = Object.entries(table).map(
      ([ref, row]) =>
        `${ref}: ${Object.entries(row)
          .map(([unit, ms]) => `${unit} ${ms} ms`)
          .join(', ')}`,
    );
    console.log(`[recovery] ${scenario}: all done ${Math.max(...Object.values(first))} ms ${firstRef} | ${rows.join(' | ')}`);
    return table;
  };

  const expectOneAuditEach = async (work: Work) => {
    const rows: Array<{ action: string; n: number }> = await t.dataSource.query(
      `SELECT action, count(*)::int AS n FROM audit_events
        WHERE (target_id = $1 AND action = 'credential.secret_destroyed') OR (target_id = $2 AND action IN ('rotation.published', 'credential.rotated'))
        GROUP BY action ORDER BY action`,
      [work.revoked, work.rotated],
    );
    expect(rows).toEqual([
      { action: 'credential.rotated', n: 1 },
      { action: 'credential.secret_destroyed', n: 1 },
      { action: 'rotation.published', n: 1 },
    ]);
  };

  beforeAll(async () => {
    compiled = CompiledApp.build();
    vault = await new VaultDouble().start();
    // The API here; workers (and, in one scenario, the scheduler) in child processes this test kills.
    t = await startTestApp({ roles: 'api', env: { VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken } });
    f = new Fixtures(t);
    ({ product, agent } = await f.world());
    for (let i = 0; i < 2; i++) {
      const g = await HoldingGateway.start();
      const res = await t.http.post('/v1/gateways', { name: `gw-${i}`, url: g.receiver.url, environments: ['production'] }, t.adminToken);
      expect(res.status).toBe(201);
      g.id = res.body.gateway.id;
      gateways.push(g);
    }
  });

  afterEach(() => hold(false));

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    compiled?.remove();
    await t?.close();
    await Promise.all(gateways.map((g) => g.receiver.close()));
    await vault?.stop();
  });

  it('a restarted worker resumes what the killed one held within 10 s of its start', async () => {
    const first = await startWorker();
    const ids = await credentials('vault');
    hold(true);
    const vaultMark = vault.calls.length;
    const work = await revokeAndRotate(ids, 'vault');
    await waitHeld(work, vaultMark);

    await first.worker.kill();
    const killedAt = Date.now();
    hold(false);
    const second = await startWorker();
    const done = await waitFinished(work, 40_000);
    const times = report('restarted worker', done, {
      'after the new worker started': second.spawnedAt,
      'after it was ready': second.readyAt,
      'after the kill': killedAt,
    });
    for (const [unit, ms] of Object.entries(times['after the new worker started']))
      expect({ unit, ms, within: ms <= HELD_BOUND_MS }).toMatchObject({ unit, within: true });
    await expectOneAuditEach(work);
  });

  it('committed work whose jobs were lost before the enqueue completes within 15 s of a restart', async () => {
    // The worker left by the previous case delivers the issued events, then goes.
    const ids = await credentials('local');
    for (const w of workers) await w.kill();

    const work = await revokeAndRotate(ids, 'local');
    // The process died between its commit and its enqueue: none of these jobs ever reached Redis.
    const jobIds = await jobIdsOf(work);
    await eventually(
      async () => (await jobs().queue(rotationQueueName('local')).getJobState(jobIds.rotation)) !== 'unknown',
      5000,
      'the rotation job',
    );
    await jobs().queue(rotationQueueName('local')).remove(jobIds.rotation);
    await jobs().queue(RevocationQueue.SecretDestruction).remove(jobIds.destruction);
    // A gateway's drain job may still be held by the worker just killed (it was finishing): its lock goes with it.
    for (const id of jobIds.deliveries) {
      await jobs()
        .redis()
        .del(`${jobs().queue(GatewayQueue.Delivery).toKey(id)}:lock`);
      await jobs().queue(GatewayQueue.Delivery).remove(id);
    }
    expect(await jobStates(work)).toEqual({ deliveries: ['unknown', 'unknown'], destruction: 'unknown', rotation: 'unknown' });

    const restarted = await startWorker('worker,scheduler');
    const done = await waitFinished(work, 40_000);
    const times = report('lost enqueue', done, { 'after the restart': restarted.spawnedAt, 'after it was ready': restarted.readyAt });
    for (const [unit, ms] of Object.entries(times['after the restart']))
      expect({ unit, ms, within: ms <= LOST_BOUND_MS }).toMatchObject({ unit, within: true });
    await expectOneAuditEach(work);
  });

  it('a surviving worker resumes what the killed one held within 10 s of the death, and never while it lived', async () => {
    const doomed = workers[workers.length - 1];
    const ids = await credentials('vault');
    hold(true);
    const vaultMark = vault.calls.length;
    const work = await revokeAndRotate(ids, 'vault');
    await waitHeld(work, vaultMark);

    // The survivor starts while the other holds everything, and waits beside it for longer than a lock lasts:
    // the holder renews its locks, so nothing is taken from a live worker.
    await startWorker();
    await sleep(6_000);
    expect(await jobStates(work)).toEqual({ deliveries: ['active', 'active'], destruction: 'active', rotation: 'active' });
    for (const g of gateways) expect(g.arrivalsOf('credential.revoked', work.revoked)).toHaveLength(1);

    await doomed.kill();
    const killedAt = Date.now();
    hold(false);
    const done = await waitFinished(work, 40_000);
    const times = report('surviving worker', done, { 'after the kill': killedAt });
    for (const [unit, ms] of Object.entries(times['after the kill']))
      expect({ unit, ms, within: ms <= HELD_BOUND_MS }).toMatchObject({ unit, within: true });
    // The second run of each started after the death, never beside the first.
    for (const g of gateways) {
      const [held, ...resumed] = g.arrivalsOf('credential.revoked', work.revoked);
      expect(held).toBeLessThan(killedAt);
      expect(resumed.length).toBeGreaterThan(0);
      for (const at of resumed) expect(at).toBeGreaterThanOrEqual(killedAt);
    }
    await expectOneAuditEach(work);
  });
});
