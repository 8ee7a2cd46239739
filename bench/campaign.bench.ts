/**
 * npm run bench:campaign
 *
 * Seeds 100,000 active credentials in bulk (varied scopes, allowlists, last
 * use and rotation dates, so every risk flag is computed for real), starts the
 * compiled service against them, opens a campaign over all of them through
 * the API and downloads its CSV report. Prints the time to open, the time to
 * produce the CSV, and the service's peak RSS.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { figure, freshDatabase, REDIS_URL, startService } from './support';

const CREDENTIALS = Number(process.env.BENCH_CREDENTIALS ?? 100_000);
const OWNERS = 1_000;
const AGENTS_PER_OWNER = 10;

async function seed(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const now = new Date().toISOString();
    await client.query(
      `INSERT INTO products (id, name, operations, created_at) VALUES ($1, 'customers', ARRAY['read','write','delete','admin'], $2)`,
      [randomUUID(), now],
    );
    await client.query(
      `INSERT INTO owners (id, name, email, kind, created_at, updated_at)
       SELECT gen_random_uuid(), 'owner ' || i, 'owner' || i || '@example.com', 'team', $1, $1 FROM generate_series(1, $2) i`,
      [now, OWNERS],
    );
    await client.query(
      `INSERT INTO agents (id, name, owner_id, status, created_at, updated_at)
       SELECT gen_random_uuid(), 'agent ' || a, o.id, 'active', $1, $1 FROM owners o, generate_series(1, $2) a`,
      [now, AGENTS_PER_OWNER],
    );
    await client.query(
      `INSERT INTO credentials (id, client_id, agent_id, owner_id, type, environment, scopes, rate_limit_requests,
         rate_limit_per_seconds, ip_allowlist, secret_store, secret_ref, secret_version, secret_version_id, secret_sha256,
         secret_delivered_version, status, rotation_interval_days, grace_period_hours, next_rotation_at, last_used_at,
         requested_by, created_at, updated_at)
       SELECT id, 'agc_' || replace(id::text, '-', ''), agent_id, owner_id, 'api_key',
              CASE WHEN n % 2 = 0 THEN 'production' ELSE 'sandbox' END,
              CASE n % 4 WHEN 0 THEN ARRAY['customers:read'] WHEN 1 THEN ARRAY['customers:read','customers:write']
                         WHEN 2 THEN ARRAY['customers:read','customers:delete'] ELSE ARRAY['customers:admin'] END,
              CASE WHEN n % 50 = 0 THEN 100000 ELSE 100 END, CASE WHEN n % 50 = 0 THEN 1 ELSE 60 END,
              CASE WHEN n % 3 = 0 THEN ARRAY['10.0.0.0/8'] ELSE ARRAY[]::text[] END,
              'local', 'local:' || id, 1, '1', md5(id::text) || md5(n::text), 1, 'active', 90, 24,
              created + interval '90 days',
              CASE WHEN n % 5 = 0 THEN NULL ELSE now() - (random() * interval '60 days') END,
              'bench', created, created
       FROM (SELECT gen_random_uuid() AS id, a.id AS agent_id, a.owner_id, n,
                    now() - (random() * interval '365 days') AS created
             FROM generate_series(1, $1) n
             JOIN (SELECT id, owner_id, (row_number() OVER ()) - 1 AS idx FROM agents) a ON a.idx = n % $2::int) s`,
      [CREDENTIALS, OWNERS * AGENTS_PER_OWNER],
    );
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const db = await freshDatabase('agc_bench_camp');
  const adminToken = `agt_bench_${randomBytes(24).toString('hex')}`;
  const seeded = Date.now();
  await seed(db.url);
  figure('seed_credentials', CREDENTIALS, 'rows');
  figure('seed_s', (Date.now() - seeded) / 1000, 's');

  const service = await startService({
    DATABASE_URL: db.url,
    REDIS_URL,
    REDIS_PREFIX: `bench_${randomBytes(4).toString('hex')}`,
    ADMIN_TOKEN: adminToken,
    LOCAL_STORE_KEY: randomBytes(32).toString('base64'),
    ROLES: 'api',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
  });
  const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  try {
    const opening = performance.now();
    const opened = await fetch(`${service.baseUrl}/v1/campaigns`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'bench', dueInDays: 14 }),
    });
    const openSeconds = (performance.now() - opening) / 1000;
    const campaign = (await opened.json()) as { id: string; itemCount: number };
    if (opened.status !== 201 || campaign.itemCount !== CREDENTIALS) {
      throw new Error(`open answered ${opened.status} with ${JSON.stringify(campaign)}`);
    }
    figure('campaign_items', campaign.itemCount, 'items');
    figure('campaign_open_s', openSeconds, 's');

    const reporting = performance.now();
    const report = await fetch(`${service.baseUrl}/v1/campaigns/${campaign.id}/report?format=csv`, { headers });
    if (report.status !== 200 || !report.body) throw new Error(`report answered ${report.status}`);
    let bytes = 0;
    let lines = 0;
    for await (const chunk of report.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      for (const byte of chunk) if (byte === 10) lines += 1;
    }
    const reportSeconds = (performance.now() - reporting) / 1000;
    if (lines !== CREDENTIALS + 1) throw new Error(`the CSV has ${lines} lines, expected ${CREDENTIALS + 1}`);
    figure('report_csv_mb', bytes / 1024 / 1024, 'MB');
    figure('report_csv_s', reportSeconds, 's');
    figure('rss_peak', service.peakRssMb(), 'MB');
  } finally {
    await service.stop();
    await db.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
