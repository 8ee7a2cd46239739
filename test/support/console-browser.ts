/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/**
 * The console's browser tests' common parts: Debian's Chromium driven by
 * playwright-core, sign-in by keyboard, Tab navigation, axe-core, screenshots,
 * and the watch for requests to other origins and CSP reports.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(__dirname, '..', '..', 'docs', 'screenshots');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export class ConsoleBrowser {
  /** Requests to anything but the service (must stay empty). */
  readonly offsite: string[] = [];
  /** Content-Security-Policy reports in the page's console (must stay empty). */
  readonly cspViolations: string[] = [];

  private constructor(
    private readonly browser: Browser,
    private readonly baseUrl: string,
  ) {}

  static async launch(baseUrl: string): Promise<ConsoleBrowser> {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    return new ConsoleBrowser(browser, baseUrl);
  }

  close(): Promise<void> {
    return this.browser.close();
  }

  /** A fresh browser context signed in with `token`, by keyboard only. */
  async open(token: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await this.browser.newContext({ baseURL: this.baseUrl, viewport: { width: 1280, height: 800 } });
    context.on('request', (request) => {
      if (!request.url().startsWith(this.baseUrl) && !request.url().startsWith('data:')) this.offsite.push(request.url());
    });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) this.cspViolations.push(message.text());
    });
    await page.goto('/console');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await tabTo(page, (el) => el.id === 'token');
    await page.keyboard.type(token);
    await page.keyboard.press('Enter');
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    return { context, page };
  }
}

/** Presses Tab until the focused element matches; fails when none does within `max` presses. */
export async function tabTo(page: Page, test: (el: { id: string; text: string; tag: string }) => boolean, max = 80): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const el = await page.evaluate(() => {
      const active = document.activeElement as HTMLElement | null;
      return {
        id: active?.id ?? '',
        text: (active?.getAttribute('aria-label') ?? active?.textContent ?? '').trim(),
        tag: active?.tagName ?? '',
      };
    });
    if (test(el)) return;
  }
  throw new Error(`nothing matching was reached with ${max} Tab presses`);
}

/** axe-core on the page as it is: no serious or critical violation. */
export async function axe(page: Page, what: string): Promise<void> {
  await page.evaluate(AXE);
  const violations: Array<{ id: string; impact: string; help: string; nodes: unknown[] }> = await page.evaluate(
    async () => (await (window as any).axe.run(document, { resultTypes: ['violations'] })).violations,
  );
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help}`);
  expect([what, serious]).toEqual([what, []]);
}

export const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

/** Waits until focus is inside an opened confirm form (a destructive action's reason field), as a keyboard user would. */
export async function focusInConfirm(page: Page): Promise<void> {
  await page.waitForFunction(() => document.activeElement?.closest('form.confirm') != null);
}

/**
 * The world the usage-driven console tests start from: a `billing` product
 * (read, write), two owners with one agent each (Payments team's
 * invoice-reconciler, Search team's search-indexer) and a gateway token to
 * make real verify calls with.
 */
export async function twoOwnerWorld(
  t: { http: { post(path: string, body: unknown, token?: string): Promise<{ body: any }> }; adminToken: string },
  f: {
    product(name: string, scopes: string[]): Promise<unknown>;
    owner(o: { name: string }): Promise<any>;
    gateway(environments: string[]): Promise<{ id: string }>;
    token(role: 'gateway', ownerId: undefined, gatewayId: string): Promise<{ token: string }>;
  },
): Promise<{ ownerA: any; ownerB: any; agentA: any; agentB: any; gatewayToken: string }> {
  await f.product('billing', ['read', 'write']);
  const ownerA = await f.owner({ name: 'Payments team' });
  const ownerB = await f.owner({ name: 'Search team' });
  const gateway = await f.gateway(['production', 'sandbox']);
  const gatewayToken = (await f.token('gateway', undefined, gateway.id)).token;
  const agentA = (await t.http.post('/v1/agents', { name: 'invoice-reconciler', ownerId: ownerA.id }, t.adminToken)).body;
  const agentB = (await t.http.post('/v1/agents', { name: 'search-indexer', ownerId: ownerB.id }, t.adminToken)).body;
  return { ownerA, ownerB, agentA, agentB, gatewayToken };
}
