import { setTimeout as sleep } from 'node:timers/promises';

import { OutboxSweeperService as OutboxSweeper } from '../../src/gateways/outbox-sweeper.service';
import { VaultDouble } from '../doubles/vault-double';
import { Fixtures } from '../support/fixtures';
import { eventually, GatewayReceiver } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';
import { credentialRows, DAY, expectStoreServesCurrent, gatewayFor, liveVersions, rotationsOf, sweep } from './rotation-helpers';
import { CompiledApp, WorkerProcess } from './worker-process';

/**
 * How many credentials rotate under the kills (ROTATION_CRASH_CREDENTIALS): 80 in `npm test`, ten times the
 * worker's concurrency, so every kill still lands on rotations in flight at each step; 200 in `npm run test:soak`
 * (test/rotation/crash.soak-spec.ts).
 */
const CREDENTIALS = Number(process.env.ROTATION_CRASH_CREDENTIALS ?? 80);
/** SIGKILLs at random moments, after one at each step. */
const RANDOM_KILLS = Number(process.env.ROTATION_CRASH_RANDOM_KILLS ?? 6);
const STEPS = ['pending', 'published', 'verified', 'promoted'] as const;

/**
 * The worker is a separate process (ROLES=worker) that this test SIGKILLs:
 * once while some rotation sits at each step in turn (Vault is slowed so each
 * step lasts long enough to be seen in the rotations table), then at random
 * moments, over dozens of rotations on the local store and Vault. After the
 * restarts every credential must have exactly one current version, the one
 * its store returns, announced to the gateways with that very hash, and no
 * other version left in the store.
 */
describe('rotation survives worker crashes', () => {
  jest.setTimeout(600_000);
  let vault: VaultDouble;
  let t: TestApp;
  let receiver: GatewayReceiver;
  let compiled: CompiledApp;
  let worker: WorkerProcess | null = null;
  const ids: string[] = [];
  const kills: string[] = [];

  const startWorker = async () => {
    worker = await WorkerProcess.start(compiled, {
      ...t.env,
      LOG_LEVEL: 'error',
      DATABASE_POOL_SIZE: '10',
      ROTATION_JOB_LOCK_MS: '1000',
      ROTATION_CONCURRENCY: '8',
      DELIVERY_LOCK_MS: '1000',
    });
  };
  const killWorker = async (why: string) => {
    await worker?.kill();
    worker = null;
    kills.push(why);
  };
  /** Rotations per step (recorded since `since`, by the worker's clock, if given). */
  const stepsSince = async (since = new Date(0)): Promise<Record<string, number>> => {
    const rows: Array<{ step: string; n: number }> = await t.dataSource.query(
      `SELECT step, count(*)::int AS n FROM rotations WHERE credential_id = ANY ($1::uuid[]) AND updated_at > $2 GROUP BY step`,
      [ids, since],
    );
    return Object.fromEntries(rows.map((r) => [r.step, r.n]));
  };
  const stepCounts = () => stepsSince();

  beforeAll(async () => {
    compiled = CompiledApp.build();
    vault = await new VaultDouble().start();
    // The API and the sweeps run here; the rotation and delivery workers only in the child.
    t = await startTestApp({
      roles: 'api',
      env: {
        VAULT_ADDR: vault.url,
        VAULT_TOKEN: vault.rootToken,
        SECRET_STORE_TIMEOUT_MS: '3000',
        SECRET_STORE_RETRY_BASE_MS: '5',
        ROTATION_RETRY_BASE_MS: '50',
        ROTATION_RETRY_MAX_MS: '500',
        ROTATION_MAX_ATTEMPTS: '50',
        ROTATION_STALE_AFTER_MS: '2000',
        DELIVERY_RETRY_SCHEDULE: '200ms,500ms',
      },
    });
    receiver = await gatewayFor(t);
    const f = new Fixtures(t);
    const { product, agent } = await f.world();
    for (let i = 0; i < CREDENTIALS; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, CREDENTIALS - i) }, (_, j) =>
          f.credential(agent.id, [`${product.name}:read`], {
            secretStore: (i + j) % 2 ? 'vault' : 'local',
            gracePeriodHours: 0, // retired right after promotion: the store must end with one version
          }),
        ),
      );
      ids.push(...batch.map((b) => b.credential.id));
    }
  });

  afterAll(async () => {
    await worker?.kill();
    compiled?.remove();
    await t?.close();
    await receiver?.close();
    await vault?.stop();
  });

  it(`kills the worker at each step and at random, and every credential ends with one working version`, async () => {
    t.clock.advance(91 * DAY);
    expect((await sweep(t)).started).toBe(CREDENTIALS);
    // Back to the real time the worker process lives in, so promoted credentials are not due again.
    t.clock.set(new Date());

    for (const step of STEPS) {
      vault.faults.latencyMs = 120;
      const writesBefore = vault.count(/^POST secret\/data\//);
      await startWorker();
      const since = new Date();
      // pending: a write of a new version is on its way to Vault (it lands after the kill);
      // the others: a rotation recorded that step under this worker.
      const reached = async () =>
        step === 'pending' ? vault.count(/^POST secret\/data\//) > writesBefore : (await stepsSince(since))[step] !== undefined;
      const deadline = performance.now() + 120_000;
      while (!(await reached())) {
        if (performance.now() > deadline) throw new Error(`no rotation reached step ${step}; steps: ${JSON.stringify(await stepCounts())}`);
        await sleep(5);
      }
      await killWorker(`at ${step}: ${JSON.stringify(await stepCounts())}`);
    }

    vault.faults.latencyMs = 10;
    for (let i = 0; i < RANDOM_KILLS; i++) {
      await startWorker();
      await sleep(100 + Math.floor(Math.random() * 1500));
      await killWorker(`random ${i}: ${JSON.stringify(await stepCounts())}`);
    }
    expect(kills).toHaveLength(STEPS.length + RANDOM_KILLS);

    // The last worker finishes the job; the sweep re-enqueues any job a crash lost.
    vault.faults.latencyMs = 0;
    await startWorker();
    const deadline = performance.now() + 240_000;
    for (;;) {
      const counts = await stepCounts();
      if (counts.retired === CREDENTIALS) break;
      if (performance.now() > deadline)
        throw new Error(`not every rotation finished: ${JSON.stringify(counts)}; kills: ${kills.join(' | ')}`);
      t.clock.set(new Date());
      await sweep(t);
      await t.app.get(OutboxSweeper).sweep();
      await sleep(500);
    }

    // Exactly one rotation per credential, completed and retired, never failed.
    const rotations = await rotationsOf(t.dataSource, ids);
    expect(rotations).toHaveLength(CREDENTIALS);
    expect(rotations.filter((r) => r.status !== 'completed' || r.step !== 'retired')).toEqual([]);

    const rows = await credentialRows(t.dataSource, ids);
    expect(rows.filter((r) => r.secret_version !== 2 || r.status !== 'active')).toEqual([]);
    // The store returns the version the row names, with the row's hash...
    await expectStoreServesCurrent(t, rows);
    for (const row of rows) {
      const rotation = rotations.find((r) => r.credential_id === row.id)!;
      expect(row.secret_sha256).toBe(rotation.new_secret_sha256);
      // ...and holds nothing else: no orphaned pending version, the old one destroyed.
      const live = await liveVersions(t, row, { vault });
      expect({ id: row.id, live }).toEqual({ id: row.id, live: [{ id: '2', current: true, sha256: row.secret_sha256 }] });
      if (row.secret_store === 'vault') expect([...vault.key(`agents/${row.agent_id}/${row.id}`)!.versions.keys()].sort()).toEqual([1, 2]);
    }
    const localRows: Array<{ n: number }> = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM local_secret_versions WHERE credential_id = ANY ($1::uuid[]) AND version > 2`,
      [ids],
    );
    expect(localRows[0].n).toBe(0);

    // One credential.rotated per credential went to the outbox, carrying the hash that was promoted,
    // and the gateway acknowledged it (deliveries are at least once: a crash may repeat one).
    const events: Array<{ credential_id: string; n: number; hashes: string[] }> = await t.dataSource.query(
      `SELECT credential_id, count(*)::int AS n, array_agg(payload::jsonb->'data'->>'secretSha256') AS hashes
         FROM outbox_events WHERE type = 'credential.rotated' AND credential_id = ANY ($1::uuid[]) GROUP BY credential_id`,
      [ids],
    );
    expect(events).toHaveLength(CREDENTIALS);
    for (const e of events) {
      expect(e.n).toBe(1);
      expect(e.hashes[0]).toBe(rows.find((r) => r.id === e.credential_id)!.secret_sha256);
    }
    await eventually(
      async () => {
        await t.app.get(OutboxSweeper).sweep(); // re-enqueues deliveries whose jobs a crash lost
        return ids.every((id) => receiver.events('credential.rotated', id).length > 0);
      },
      60_000,
      'credential.rotated at the gateway for every credential',
    );
    for (const row of rows) {
      for (const event of receiver.events('credential.rotated', row.id)) expect(event.json.data.secretSha256).toBe(row.secret_sha256);
    }
    const audit: Array<{ action: string; n: number }> = await t.dataSource.query(
      `SELECT action, count(*)::int AS n FROM audit_events WHERE target_id = ANY ($1)
          AND action IN ('rotation.published', 'credential.rotated', 'credential.version_retired') GROUP BY action ORDER BY action`,
      [ids],
    );
    expect(audit).toEqual([
      { action: 'credential.rotated', n: CREDENTIALS },
      { action: 'credential.version_retired', n: CREDENTIALS },
      { action: 'rotation.published', n: CREDENTIALS },
    ]);
    const verify = await t.http.get('/v1/audit-events/verify', t.adminToken);
    expect(verify.body.valid).toBe(true);
  });
});
