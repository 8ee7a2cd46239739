/**
 * npm run bench:campaign
 *
 * Seeds 100,000 active credentials in bulk (varied scopes, allowlists, last
 * use and rotation dates, so every risk flag is computed for real), starts the
 * compiled service against them, opens a campaign over all of them through
 * the API and downloads its CSV report, then closes it undecided with
 * `onExpiry: revoke`, so every credential is revoked in one revocation.
 * Prints the time to open, the time to produce the CSV and the service's peak
 * RSS so far (`rss_peak`), then the time to close (`campaign_close_revoke_s`)
 * and the peak RSS after it (`rss_peak_after_close`).
 */
import { randomBytes } from 'node:crypto';

import { Client } from 'pg';

import { figure, freshDatabase, runMain, seedInventory, serviceEnv, startService } from './support';

const CREDENTIALS = Number(process.env.BENCH_CREDENTIALS ?? 100_000);
const OWNERS = 1_000;
const AGENTS_PER_OWNER = 10;

async function main(): Promise<void> {
  const db = await freshDatabase('agc_bench_camp');
  const adminToken = `agt_bench_${randomBytes(24).toString('hex')}`;
  const seeded = Date.now();
  await seedInventory(db.url, { credentials: CREDENTIALS, owners: OWNERS, agentsPerOwner: AGENTS_PER_OWNER });
  figure('seed_credentials', CREDENTIALS, 'rows');
  figure('seed_s', (Date.now() - seeded) / 1000, 's');

  const service = await startService(serviceEnv(db.url, adminToken, { ROLES: 'api', LOG_LEVEL: 'warn' }));
  const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  try {
    const opening = performance.now();
    const opened = await fetch(`${service.baseUrl}/v1/campaigns`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'bench', dueInDays: 14, onExpiry: 'revoke' }),
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

    const closing = performance.now();
    const closed = await fetch(`${service.baseUrl}/v1/campaigns/${campaign.id}/close`, {
      method: 'POST',
      headers: { authorization: headers.authorization },
    });
    const closeSeconds = (performance.now() - closing) / 1000;
    const progress = (await closed.json()) as { expiredCount: number };
    if (closed.status !== 200 || progress.expiredCount !== CREDENTIALS) {
      throw new Error(`close answered ${closed.status} with ${JSON.stringify(progress).slice(0, 300)}`);
    }
    const client = new Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM credentials WHERE status = 'revoked'`);
    await client.end();
    if (rows[0].n !== CREDENTIALS) throw new Error(`${rows[0].n} of ${CREDENTIALS} credentials were revoked`);
    figure('campaign_close_revoke_s', closeSeconds, 's');
    figure('rss_peak_after_close', service.peakRssMb(), 'MB');
  } finally {
    await service.stop();
    await db.drop();
  }
}

runMain(main);
