import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';
import { allCompleted, credentialRows, DAY, rotationsOf, sweep, waitForRotations } from './rotation-helpers';

const CREDENTIALS = 300;

/**
 * Several scheduler replicas on one database: three app instances, each
 * sweeping on its own timer and on demand at the same moments. Every due
 * credential must rotate exactly once.
 */
describe('rotation with three schedulers', () => {
  let a: TestApp;
  let b: TestApp;
  let c: TestApp;
  const ids: string[] = [];

  beforeAll(async () => {
    a = await startTestApp({ roles: 'api,worker' });
    const shared = {
      REDIS_PREFIX: a.redisPrefix,
      ADMIN_TOKEN: a.adminToken,
      LOCAL_STORE_KEY: a.env.LOCAL_STORE_KEY!,
      ROTATION_SWEEP_INTERVAL_MS: '100',
      ROTATION_SWEEP_BATCH: '40',
    };
    const f = new Fixtures(a);
    const { product, agent } = await f.world();
    for (let i = 0; i < CREDENTIALS; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, CREDENTIALS - i) }, () => f.credential(agent.id, [`${product.name}:read`])),
      );
      ids.push(...batch.map((b) => b.credential.id));
    }
    // Two more processes with the scheduler role (their sweep timers run), all three sweeping on demand too.
    [b, c] = await Promise.all([
      startTestApp({ roles: 'scheduler', database: a.database, env: shared }),
      startTestApp({ roles: 'scheduler', database: a.database, env: shared }),
    ]);
  });

  afterAll(async () => {
    await b?.close({ keepState: true });
    await c?.close({ keepState: true });
    await a?.close();
  });

  it('rotates every due credential exactly once', async () => {
    for (const app of [a, b, c]) app.clock.advance(91 * DAY);
    // The timers of b and c sweep every 100 ms meanwhile; these calls land on top of them.
    const rounds = await Promise.all([0, 1, 2, 3].map(() => Promise.all([sweep(a), sweep(b), sweep(c)])));
    const started = rounds.flat().reduce((sum, r) => sum + r.started, 0);
    expect(started).toBeLessThanOrEqual(CREDENTIALS);

    const rotations = await waitForRotations(a.dataSource, ids, allCompleted(ids), 60_000, 'every rotation completed');
    expect(new Set(rotations.map((r) => r.credential_id)).size).toBe(CREDENTIALS);
    for (let i = 0; i < 3; i++) await Promise.all([sweep(a), sweep(b), sweep(c)]);
    expect(await rotationsOf(a.dataSource, ids)).toHaveLength(CREDENTIALS);

    const rows = await credentialRows(a.dataSource, ids);
    expect(rows.every((r) => r.secret_version === 2)).toBe(true);
    const counts: Array<{ action: string; n: number; credentials: number }> = await a.dataSource.query(
      `SELECT action, count(*)::int AS n, count(DISTINCT target_id)::int AS credentials FROM audit_events
        WHERE target_id = ANY ($1) AND action IN ('rotation.scheduled', 'rotation.published', 'credential.rotated')
        GROUP BY action ORDER BY action`,
      [ids],
    );
    expect(counts).toEqual([
      { action: 'credential.rotated', n: CREDENTIALS, credentials: CREDENTIALS },
      { action: 'rotation.published', n: CREDENTIALS, credentials: CREDENTIALS },
      { action: 'rotation.scheduled', n: CREDENTIALS, credentials: CREDENTIALS },
    ]);
    const [events] = await a.dataSource.query(
      `SELECT count(*)::int AS n, count(DISTINCT credential_id)::int AS credentials FROM outbox_events
        WHERE type = 'credential.rotated' AND credential_id = ANY ($1::uuid[])`,
      [ids],
    );
    expect(events).toEqual({ n: CREDENTIALS, credentials: CREDENTIALS });
  });
});

describe('rotation rate limit per store', () => {
  let t: TestApp;
  afterAll(() => t?.close());

  it('starts no more rotations per window on a store than its limit', async () => {
    // 3 per 3 s here (per minute by default).
    t = await startTestApp({ env: { ROTATION_RATE_LIMIT_LOCAL: '3', ROTATION_RATE_LIMIT_WINDOW_MS: '3000' } });
    const f = new Fixtures(t);
    const { product, agent } = await f.world();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await f.credential(agent.id, [`${product.name}:read`])).credential.id);
    t.clock.advance(91 * DAY);
    expect((await sweep(t)).started).toBe(7);
    const completed = async () => (await rotationsOf(t.dataSource, ids)).filter((r) => r.status === 'completed').length;
    await waitForRotations(
      t.dataSource,
      ids,
      (rows) => rows.filter((r) => r.status === 'completed').length >= 3,
      20_000,
      'three completed',
    );
    const firstWindow = performance.now();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await completed()).toBe(3);
    // The next window lets the next three through, and so on until all are done.
    await waitForRotations(t.dataSource, ids, allCompleted(ids), 20_000, 'all completed');
    expect(performance.now() - firstWindow).toBeGreaterThan(2500);
  });
});
