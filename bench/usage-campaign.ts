/**
 * `campaign_open_s` of `npm run bench:usage`: a campaign open over 100,000
 * credentials whose usage fills 90 days of hourly rollups and their daily sums.
 *
 * Every credential with a rollup row for every hour of 90 days would be
 * 216 M rows (100,000 × 2,160), more than this machine's disk and minutes, and
 * not what a fleet of agents looks like either. The seeded distribution, by
 * credential (n = its rank):
 *   - 2 % busy:         a call every hour of the 90 days (2,160 active hours);
 *   - 50 % daily:       one active hour every other day (45 active hours);
 *   - 18 % occasional:  one active hour on 10 days (10 active hours);
 *   - 30 % silent:      no call in 90 days (the campaign recommends revoke).
 * In each active hour: an allowed row for the credential's first scope, one
 * for its second scope (if it has one, and for two credentials in three) in
 * every other hour (the third never use it: the campaign recommends reduce), and in one active
 * hour of 20 a refused row (SCOPE_DENIED) for a scope it lacks. At 100,000
 * credentials that is about 7.5-8.7 M rows of usage_hourly (the figure
 * `usage_rollup_rows` says how many), written with bare SQL (generate_series)
 * in time order, as the recorder writes them (hour, then credential), and
 * vacuumed, as a long-lived table is. usage_daily is then filled from those
 * rows (summed per credential, UTC day, scope, outcome and deny code; day
 * order), as the recorder keeps it and the migration backfills it: the service
 * writes both, and the open reads only the daily rows
 * (migrations/1796534811799-UsageDaily.ts).
 *
 * Figures, one per line, `name: value unit`:
 *   usage_rollup_rows            rows of usage_hourly seeded
 *   usage_daily_rows             rows of usage_daily seeded from them
 *   campaign_open_s              POST /v1/campaigns over every credential, through the service (target ≤ 5 s)
 *   floor_usage_aggregate_s      the bare aggregate the open cannot avoid: the rows it reads (usage_daily in its
 *                                90-day window of whole UTC days) summed per credential and scope, in one backend
 *                                with no parallel workers (an INSERT ... SELECT runs without them) and the open's
 *                                work_mem, in the same run
 *   floor_usage_aggregate_hourly_s  the same aggregate over the hourly rows of the 90 days (the floor before
 *                                the open read daily rows), for comparison
 *   campaign_open_without_usage_s  the same open over the same inventory before the usage was seeded
 *   campaign_open_ratio_to_floor campaign_open_s over floor_usage_aggregate_s
 *   campaign_recommend_{keep,reduce,revoke}  items per recommendation (a check the usage was read)
 *
 * BENCH_CAMPAIGN_CREDENTIALS (100,000) scales the inventory and the usage with it.
 */
import { randomBytes } from 'node:crypto';

import { Client } from 'pg';

import { SNAPSHOT_WORK_MEM } from '../src/reviews/review-items.repository';
import { USAGE_WINDOW_DAYS, windowStart } from '../src/reviews/usage-recommendation';
import { figure, freshDatabase, seedInventory, serviceEnv, startService } from './support';

const CREDENTIALS = Number(process.env.BENCH_CAMPAIGN_CREDENTIALS ?? 100_000);

/** Seeds usage_hourly as the header says, for credentials ranked by id, and usage_daily from it; answers the rows written. */
export async function seedUsage(pg: Client, now: Date): Promise<{ hourly: number; daily: number }> {
  const inserted = await pg.query(
    `WITH c AS (SELECT id, scopes, (row_number() OVER (ORDER BY id))::int AS n FROM credentials),
          active AS (
            SELECT c.id, c.scopes, c.n, hh.hour FROM c CROSS JOIN LATERAL (
              SELECT date_trunc('hour', $1::timestamptz) - g * interval '1 hour' AS hour
                FROM generate_series(0, 2159) g WHERE c.n % 100 < 2
              UNION ALL
              SELECT date_trunc('hour', $1::timestamptz) - (d * 2) * interval '1 day' - (c.n % 24) * interval '1 hour'
                FROM generate_series(0, 44) d WHERE c.n % 100 BETWEEN 2 AND 51
              UNION ALL
              SELECT date_trunc('hour', $1::timestamptz) - (d * 9 + c.n % 9) * interval '1 day' - (c.n % 24) * interval '1 hour'
                FROM generate_series(0, 9) d WHERE c.n % 100 BETWEEN 52 AND 69
            ) hh)
     INSERT INTO usage_hourly (credential_id, hour, scope, outcome, deny_code, calls)
     SELECT * FROM (
     SELECT id, hour, scopes[1], 'allowed', '', 1 + (random() * 60)::int FROM active
     UNION ALL
     SELECT id, hour, scopes[2], 'allowed', '', 1 + (random() * 20)::int FROM active
      WHERE cardinality(scopes) > 1 AND n % 3 <> 0 AND (extract(epoch FROM hour)::bigint / 3600) % 2 = n % 2
     UNION ALL
     SELECT id, hour, 'customers:export', 'denied', 'SCOPE_DENIED', 1 + (random() * 3)::int FROM active
      WHERE (extract(epoch FROM hour)::bigint / 3600) % 20 = n % 20
     ) r ORDER BY 2, 1`,
    [now],
  );
  const daily = await pg.query(
    `INSERT INTO usage_daily (credential_id, day, scope, outcome, deny_code, calls)
     SELECT credential_id, date_trunc('day', hour, 'UTC'), scope, outcome, deny_code, sum(calls)
       FROM usage_hourly GROUP BY credential_id, date_trunc('day', hour, 'UTC'), scope, outcome, deny_code
      ORDER BY 2, 1`,
  );
  await pg.query('VACUUM ANALYZE usage_hourly');
  await pg.query('VACUUM ANALYZE usage_daily');
  // Write the seed's dirty pages now, or the checkpointer writes them during the measurement.
  await pg.query('CHECKPOINT');
  return { hourly: inserted.rowCount ?? 0, daily: daily.rowCount ?? 0 };
}

/** Seeds, opens the campaign through the service, measures the floor; prints the figures. */
export async function campaignOpenWithUsage(): Promise<void> {
  const db = await freshDatabase('bench_usage_camp');
  const adminToken = `agt_bench_${randomBytes(24).toString('hex')}`;
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  let service: Awaited<ReturnType<typeof startService>> | null = null;
  try {
    await seedInventory(db.url, { credentials: CREDENTIALS, owners: Math.max(1, CREDENTIALS / 100), agentsPerOwner: 10 });
    service = await startService(serviceEnv(db.url, adminToken, { ROLES: 'api', LOG_LEVEL: 'warn' }));
    const open = async (name: string): Promise<{ id: string; seconds: number }> => {
      const opening = performance.now();
      const opened = await fetch(`${service!.baseUrl}/v1/campaigns`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name, dueInDays: 14 }),
      });
      const seconds = (performance.now() - opening) / 1000;
      const campaign = (await opened.json()) as { id: string; itemCount: number };
      if (opened.status !== 201 || campaign.itemCount !== CREDENTIALS) {
        throw new Error(`open answered ${opened.status} with ${JSON.stringify(campaign)}`);
      }
      return { id: campaign.id, seconds };
    };
    // The same open before any usage exists: what the usage adds is the difference.
    const withoutUsage = await open('bench without usage');
    const seeded = await seedUsage(pg, new Date());
    figure('usage_rollup_rows', seeded.hourly, 'rows');
    figure('usage_daily_rows', seeded.daily, 'rows');
    // The floors: the rows, summed per credential and scope, bare, without parallel workers.
    await pg.query('SET max_parallel_workers_per_gather = 0');
    await pg.query(`SET work_mem = '${SNAPSHOT_WORK_MEM}'`);
    const floor = async (sql: string, params: Date[]): Promise<number> => {
      const flooring = performance.now();
      await pg.query(sql, params);
      return (performance.now() - flooring) / 1000;
    };
    // What the open reads now (src/reviews/review-items.repository.ts, windowStart in src/reviews/usage-recommendation.ts).
    const floorSeconds = await floor(
      `SELECT count(*), sum(n) FROM (SELECT credential_id, scope, sum(calls) AS n FROM usage_daily
        WHERE day >= $2::timestamptz AND day <= $1::timestamptz
        GROUP BY credential_id, scope) x`,
      [new Date(), windowStart(new Date(), USAGE_WINDOW_DAYS)],
    );
    // What it read before usage_daily.
    const hourlyFloorSeconds = await floor(
      `SELECT count(*), sum(n) FROM (SELECT credential_id, scope, sum(calls) AS n FROM usage_hourly
        WHERE hour >= $1::timestamptz - interval '90 days' AND hour <= $1::timestamptz GROUP BY credential_id, scope) x`,
      [new Date()],
    );

    const campaign = await open('bench with usage');
    const openSeconds = campaign.seconds;

    const { rows } = await pg.query<{ recommendation: string; n: number }>(
      `SELECT recommendation, count(*)::int AS n FROM review_items WHERE campaign_id = $1 GROUP BY 1`,
      [campaign.id],
    );
    figure('campaign_open_s', openSeconds, 's');
    figure('campaign_open_without_usage_s', withoutUsage.seconds, 's');
    figure('floor_usage_aggregate_s', floorSeconds, 's');
    figure('floor_usage_aggregate_hourly_s', hourlyFloorSeconds, 's');
    figure('campaign_open_ratio_to_floor', openSeconds / floorSeconds, 'ratio');
    for (const decision of ['keep', 'reduce', 'revoke']) {
      figure(`campaign_recommend_${decision}`, rows.find((r) => r.recommendation === decision)?.n ?? 0, 'items');
    }
  } finally {
    await pg.end();
    await service?.stop();
    await db.drop();
  }
}
