import { DAY_MS, HOUR_MS } from '../../src/common/clock/clock';
import { UsageRecorderService } from '../../src/enforcement/usage-recorder.service';
import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * The daily usage rollups (migrations/1796534811799-UsageDaily.ts): after
 * verify calls spread over two hours of one UTC day and two hours of the next,
 * every daily row equals the sum of its hourly rows, key by key, also when a
 * flush fails (its transaction rolled back, its counts put back) and is written
 * again by the next one.
 */
describe('usage rollups: daily sums of the hourly rows', () => {
  let t: TestApp;
  let f: Fixtures;
  let world: { owner: any; product: any; agent: any };
  let gateway: string;
  const flush = () => t.app.get(UsageRecorderService).flush();

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    world = await f.world();
    const made = await f.gateway(['production', 'sandbox']);
    gateway = (await f.token('gateway', undefined, made.id)).token;
  });
  afterAll(() => t.close());

  /** Per key, the hourly rows summed per UTC day, and the daily rows, for one credential. */
  const bothSides = async (credentialId: string) => {
    const fromHours = await t.dataSource.query(
      `SELECT date_trunc('day', hour, 'UTC') AS day, scope, outcome, deny_code, sum(calls)::int AS calls
         FROM usage_hourly WHERE credential_id = $1 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
      [credentialId],
    );
    const daily = await t.dataSource.query(
      `SELECT day, scope, outcome, deny_code, calls::int FROM usage_daily WHERE credential_id = $1 ORDER BY 1, 2, 3, 4`,
      [credentialId],
    );
    return { fromHours, daily };
  };

  it('keeps each day equal to the sum of its hours, through a failed flush written again', async () => {
    const made = await f.credential(world.agent.id, [`${world.product.name}:read`], { rateLimit: { requests: 10_000, perSeconds: 60 } });
    const key = made.secret!;
    const read = `${world.product.name}:read`;
    const write = `${world.product.name}:write`;
    const calls = async (n: number, scope: string) => {
      for (let i = 0; i < n; i++) await t.http.post('/v1/verify', { key, scope }, gateway);
    };
    // 90 minutes before a UTC midnight: two hours of day D, then two hours of day D + 1.
    const midnight = Math.ceil((t.clock.now().getTime() + 2 * HOUR_MS) / DAY_MS) * DAY_MS;
    t.clock.set(new Date(midnight - 90 * 60_000));
    await calls(3, read);
    await calls(1, write);
    t.clock.advance(HOUR_MS);
    await calls(2, read);
    await flush();
    t.clock.advance(HOUR_MS);
    await calls(4, read);

    // A flush that fails in the daily upsert (a constraint no row meets): its transaction writes neither table.
    await t.dataSource.query(`ALTER TABLE usage_daily ADD CONSTRAINT usage_daily_test_refuse CHECK (false) NOT VALID`);
    const hoursBefore = await bothSides(made.credential.id);
    await flush();
    expect(t.logs.text()).toContain('usage write failed');
    expect(await bothSides(made.credential.id)).toEqual(hoursBefore);
    // More calls while it is down, in the same hour and the next one, then it is written again.
    await calls(1, read);
    t.clock.advance(HOUR_MS);
    await calls(5, read);
    await calls(2, write);
    await t.dataSource.query(`ALTER TABLE usage_daily DROP CONSTRAINT usage_daily_test_refuse`);
    await flush();
    await flush();

    const { fromHours, daily } = await bothSides(made.credential.id);
    expect(daily).toEqual(fromHours);
    const dayD = new Date(midnight - DAY_MS);
    const dayE = new Date(midnight);
    expect(daily).toEqual([
      { day: dayD, scope: read, outcome: 'allowed', deny_code: '', calls: 5 },
      { day: dayD, scope: write, outcome: 'denied', deny_code: 'SCOPE_DENIED', calls: 1 },
      { day: dayE, scope: read, outcome: 'allowed', deny_code: '', calls: 10 },
      { day: dayE, scope: write, outcome: 'denied', deny_code: 'SCOPE_DENIED', calls: 2 },
    ]);
    const hours = await t.dataSource.query(`SELECT count(DISTINCT hour)::int AS n FROM usage_hourly WHERE credential_id = $1`, [
      made.credential.id,
    ]);
    expect(hours[0].n).toBe(4);
  });

  it('is what the review view reads: allowed and refused calls per day and scope', async () => {
    const rows = await t.dataSource.query(
      `SELECT sum(allowed_calls)::int AS allowed, sum(denied_calls)::int AS denied FROM credential_usage_daily`,
    );
    const sums = await t.dataSource.query(
      `SELECT (sum(calls) FILTER (WHERE outcome = 'allowed'))::int AS allowed, (sum(calls) FILTER (WHERE outcome = 'denied'))::int AS denied
         FROM usage_hourly`,
    );
    expect(rows).toEqual(sums);
    expect(rows[0].allowed).toBe(15);
  });
});
