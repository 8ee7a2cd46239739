import { SchedulerRegistry } from '@nestjs/schedule';

import { REVIEW_SWEEP_INTERVAL } from '../../src/reviews/review-sweep.cron';
import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';
import { DAY, ReviewHelpers } from './review-helpers';

/**
 * Schedules across three scheduler processes sharing one database: each
 * period opens exactly one campaign, however the sweeps race.
 */
describe('campaign schedules', () => {
  const apps: TestApp[] = [];
  let t: TestApp;
  let f: Fixtures;
  let h: ReviewHelpers;

  beforeAll(async () => {
    // Scheduler role, with every timer far off: the test runs the sweeps itself.
    const env = { OUTBOX_SWEEP_INTERVAL_MS: '3600000', REVIEW_SWEEP_INTERVAL_MS: '86400000', ROTATION_SWEEP_INTERVAL_MS: '86400000' };
    t = await startTestApp({ roles: 'api,worker,scheduler', env });
    apps.push(t);
    for (let i = 0; i < 2; i++) {
      apps.push(
        await startTestApp({
          roles: 'api,scheduler',
          database: t.database,
          clock: undefined,
          env: { ...env, ADMIN_TOKEN: t.adminToken, REDIS_PREFIX: t.redisPrefix },
        }),
      );
    }
    f = new Fixtures(t);
    h = new ReviewHelpers(t, f);
    const owner = await f.owner();
    const product = await f.product();
    const agent = await f.agent(owner.id);
    for (let i = 0; i < 20; i++) await f.credential(agent.id, [`${product.name}:read`]);
  });
  afterAll(async () => {
    for (const app of apps.slice(1)) await app.close({ keepState: true });
    await t.close();
  });

  const setClocks = (at: Date) => apps.forEach((app) => app.clock.set(at));
  const sweepAll = () => Promise.all(apps.map((app) => h.sweep(app)));
  const campaignsOf = (scheduleId: string): Promise<Array<{ schedule_period: number; item_count: number }>> =>
    t.dataSource.query('SELECT schedule_period, item_count FROM campaigns WHERE schedule_id = $1 ORDER BY schedule_period', [scheduleId]);

  it('registers the sweep only in scheduler processes', async () => {
    expect(t.app.get(SchedulerRegistry).getInterval(REVIEW_SWEEP_INTERVAL)).toBeDefined();
    const api = await startTestApp({ roles: 'api', database: t.database, env: { ADMIN_TOKEN: t.adminToken, REDIS_PREFIX: t.redisPrefix } });
    try {
      expect(() => api.app.get(SchedulerRegistry)).toThrow();
    } finally {
      await api.close({ keepState: true });
    }
  });

  it('validates a schedule and defaults to every 90 days', async () => {
    const bad = await t.http.post('/v1/campaign-schedules', { name: 'x', everyDays: 0, startsAt: 'tomorrow' }, f.admin);
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: any) => e.field).sort()).toEqual(['everyDays', 'startsAt']);
    const r = await t.http.post(
      '/v1/campaign-schedules',
      { name: 'defaults', startsAt: new Date(t.clock.now().getTime() + 365 * DAY).toISOString() },
      f.admin,
    );
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ everyDays: 90, dueInDays: 14, onExpiry: 'keep', environment: null, nextPeriodAt: r.body.startsAt });
    expect((await t.http.get('/v1/campaign-schedules', f.admin)).body.items.map((s: any) => s.id)).toContain(r.body.id);
  });

  it('opens exactly one campaign per period across three scheduler processes', async () => {
    const start = t.clock.now();
    setClocks(start);
    const r = await t.http.post(
      '/v1/campaign-schedules',
      { name: 'monthly', everyDays: 30, dueInDays: 7, environment: 'production' },
      f.admin,
    );
    expect(r.status).toBe(201);
    const scheduleId = r.body.id;

    for (let round = 0; round < 3; round++) {
      const results = await sweepAll();
      expect(results.reduce((n, x) => n + x.opened, 0)).toBe(round === 0 ? 1 : 0);
    }
    expect(await campaignsOf(scheduleId)).toEqual([{ schedule_period: 0, item_count: 20 }]);

    // Late in the same period: still one.
    setClocks(new Date(start.getTime() + 30 * DAY - 1));
    await sweepAll();
    expect(await campaignsOf(scheduleId)).toHaveLength(1);

    // The next period opens the next one, once; a skipped period is not back-filled.
    setClocks(new Date(start.getTime() + 30 * DAY));
    await sweepAll();
    await sweepAll();
    setClocks(new Date(start.getTime() + 95 * DAY));
    await sweepAll();
    const campaigns = await campaignsOf(scheduleId);
    expect(campaigns.map((c) => c.schedule_period)).toEqual([0, 1, 3]);

    const listed = await t.http.get('/v1/campaigns?limit=500', f.admin);
    const opened = listed.body.items.filter((c: any) => c.scheduleId === scheduleId);
    expect(opened.map((c: any) => c.name).sort()).toEqual(['monthly #1', 'monthly #2', 'monthly #4']);
    expect(opened.every((c: any) => c.openedBy === 'system:reviews' && c.environment === 'production')).toBe(true);
    // Period 0 and 1 were due after 7 days, so the sweeps closed them.
    expect(
      opened
        .filter((c: any) => c.status === 'closed')
        .map((c: any) => c.schedulePeriod)
        .sort(),
    ).toEqual([0, 1]);
  });
});
