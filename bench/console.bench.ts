/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * npm run bench:console
 *
 * The console's two figures, on the compiled service and Debian's Chromium:
 *
 * - `console_first_page_js_gzip`: the gzipped size of the JavaScript the first
 *   page loads (the console is one bundle; scripts/build-console.ts);
 * - `owner_reviews_tti_ms`: time to interactive of an owner's "My reviews" with
 *   500 items: from navigation start until all 500 rows are in the page and
 *   the main thread is idle (requestIdleCallback), median of 5 loads.
 *
 * Floors measured in the same run: fetching the same 500 items as JSON
 * (`floor_items_api_ms`, what the page must at least wait for), and loading a
 * static page of the service with no script (`floor_static_page_ms`).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { chromium } from 'playwright-core';

import { figure, freshDatabase, seedInventory, serviceEnv, startService } from './support';

const ITEMS = 500;
const LOADS = 5;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const dist = join(__dirname, '..', 'dist', 'console');
  const script = /src="\/console\/assets\/([^"]+\.js)"/.exec(readFileSync(join(dist, 'index.html'), 'utf8'))![1];
  const code = readFileSync(join(dist, 'assets', script));
  figure('console_first_page_js', code.length / 1024, 'KiB');
  figure('console_first_page_js_gzip', gzipSync(code, { level: 9 }).length / 1024, 'KiB');

  const db = await freshDatabase('agc_bench_console');
  const adminToken = `agt_bench_${randomBytes(24).toString('hex')}`;
  const seeded = await seedInventory(db.url, { credentials: ITEMS, owners: 1, agentsPerOwner: 10 });
  const service = await startService(serviceEnv(db.url, adminToken, { ROLES: 'api', LOG_LEVEL: 'warn' }));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  try {
    const admin = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    const ownerId = seeded.ownerIds[0];
    const token: { token: string } = await (
      await fetch(`${service.baseUrl}/v1/tokens`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ name: 'bench-owner', role: 'owner', ownerId }),
      })
    ).json();
    const campaign: { id: string; itemCount: number } = await (
      await fetch(`${service.baseUrl}/v1/campaigns`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'bench' }) })
    ).json();
    if (campaign.itemCount !== ITEMS) throw new Error(`campaign has ${campaign.itemCount} items, not ${ITEMS}`);
    figure('review_items', campaign.itemCount, 'items');

    const apiTimes: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      const started = performance.now();
      const res = await fetch(`${service.baseUrl}/v1/campaigns/${campaign.id}/items?ownerId=${ownerId}&limit=500`, {
        headers: { authorization: `Bearer ${token.token}` },
      });
      await res.json();
      apiTimes.push(performance.now() - started);
    }
    figure('floor_items_api_ms', median(apiTimes), 'ms');

    const context = await browser.newContext({ baseURL: service.baseUrl, viewport: { width: 1280, height: 800 } });
    const signIn = await context.request.post('/console/session', { data: { token: token.token } });
    if (signIn.status() !== 204) throw new Error(`sign-in answered ${signIn.status()}`);
    const page = await context.newPage();

    const staticTimes: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      await page.goto('/health', { waitUntil: 'load' });
      staticTimes.push(await page.evaluate(() => performance.now()));
    }
    figure('floor_static_page_ms', median(staticTimes), 'ms');

    const tti: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      await page.goto('/console/reviews', { waitUntil: 'commit' });
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="review-items"] tbody tr').length === n, ITEMS, {
        timeout: 60_000,
      });
      tti.push(await page.evaluate(() => new Promise<number>((resolve) => requestIdleCallback(() => resolve(performance.now())))));
    }
    figure('owner_reviews_tti_ms', median(tti), 'ms');
    figure('owner_reviews_tti_max_ms', Math.max(...tti), 'ms');
    figure('owner_reviews_tti_over_floors', median(tti) / (median(apiTimes) + median(staticTimes)), 'x');
  } finally {
    await browser.close();
    await service.stop();
    await db.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
