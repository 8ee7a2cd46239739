/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { buildConsole } from '../../scripts/build-console';
import { HOUR_MS } from '../../src/common/clock/clock';
import { UsageRecorderService } from '../../src/enforcement/usage-recorder.service';
import { axe, ConsoleBrowser, focusInConfirm, shot, tabTo } from '../support/console-browser';
import { Fixtures } from '../support/fixtures';
import { eventually, GatewayReceiver } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * The console's usage, leak, bulk revocation and revocations pages in
 * Chromium against the real app: an owner's credential usage (and nothing of
 * another owner's, even by editing the URL), the responder's pasted key
 * (looked up with action "none", never in a URL, storage, the page or a log,
 * then revoked or rotated after a confirm step), revocation by filter (count
 * first, then a reason, then the propagation view reaching complete on its
 * own) and the revocations list. Keyboard only where it matters, axe-core on
 * every page, screenshots for the README.
 */
jest.setTimeout(180_000);

describe('the console: usage, leaks, bulk revocation, revocations', () => {
  let t: TestApp;
  let f: Fixtures;
  let browser: ConsoleBrowser;
  let receiver: GatewayReceiver;
  const world: Record<string, any> = {};

  beforeAll(async () => {
    await buildConsole();
    t = await startTestApp({ env: { DELIVERY_RETRY_SCHEDULE: '100ms,200ms', DELIVERY_RETRY_WINDOW: '20s' } });
    f = new Fixtures(t);
    receiver = await GatewayReceiver.start();
    const gw = await t.http.post(
      '/v1/gateways',
      { name: 'edge-1', url: receiver.url, environments: ['production', 'sandbox'] },
      t.adminToken,
    );
    expect(gw.status).toBe(201);
    const gatewayToken = (await f.token('gateway', undefined, gw.body.gateway.id)).token;

    await f.product('billing');
    world.ownerA = await f.owner({ name: 'Payments team' });
    world.ownerB = await f.owner({ name: 'Search team' });
    world.agentA = (await t.http.post('/v1/agents', { name: 'invoice-reconciler', ownerId: world.ownerA.id }, t.adminToken)).body;
    world.agentB = (await t.http.post('/v1/agents', { name: 'search-indexer', ownerId: world.ownerB.id }, t.adminToken)).body;
    world.a1 = (await f.credential(world.agentA.id, ['billing:read', 'billing:write'])).credential;
    const leaked = await f.credential(world.agentA.id, ['billing:read']);
    world.leaked = leaked.credential;
    world.leakedSecret = leaked.secret;
    const rotated = await f.credential(world.agentA.id, ['billing:read'], { environment: 'sandbox' });
    world.rotated = rotated.credential;
    world.rotatedSecret = rotated.secret;
    world.b = [];
    for (let i = 0; i < 3; i++) world.b.push((await f.credential(world.agentB.id, ['billing:read'])).credential);
    world.bSandbox = (await f.credential(world.agentB.id, ['billing:read'], { environment: 'sandbox' })).credential;

    // Calls a gateway reports: a1 over the last hours (two denied), and one of owner B's from an address only it used.
    const now = t.clock.now().getTime();
    const event = (credentialId: string, minutesAgo: number, extra: Record<string, unknown> = {}) => ({
      credentialId,
      at: new Date(now - minutesAgo * 60_000).toISOString(),
      method: 'GET',
      path: '/invoices',
      scope: 'billing:read',
      statusCode: 200,
      ip: '198.51.100.7',
      requestId: `req-${credentialId.slice(0, 4)}-${minutesAgo}`,
      outcome: 'allowed',
      ...extra,
    });
    const events = [
      ...[5, 20, 70, 75, 130, 200, 300].map((m) => event(world.a1.id, m)),
      event(world.a1.id, 10, { method: 'POST', path: '/invoices/42/lines', scope: 'billing:write', statusCode: 201, ip: '203.0.113.9' }),
      event(world.a1.id, 40, { outcome: 'denied', denyCode: 'IP_DENIED', statusCode: 403, ip: '192.0.2.66' }),
      event(world.a1.id, 41, { outcome: 'denied', denyCode: 'IP_DENIED', statusCode: 403, ip: '192.0.2.66' }),
      event(world.b[0].id, 15, { ip: '192.0.2.201', path: '/search-only-b' }),
    ];
    const usage = await t.http.post('/v1/usage', { events }, gatewayToken);
    expect(usage.status).toBe(202);
    expect(usage.body.rejected).toEqual([]);
    await t.app.get(UsageRecorderService).flush();
    expect(now - new Date(events[0].at).getTime()).toBeLessThan(HOUR_MS);

    world.tokenA = await f.token('owner', world.ownerA.id);
    world.responder = await f.token('responder');
    world.auditor = await f.token('auditor');
    browser = await ConsoleBrowser.launch(t.baseUrl);
  });

  afterAll(async () => {
    await browser?.close();
    await receiver?.close();
    await t?.close();
  });

  afterEach(() => {
    expect(browser.offsite).toEqual([]);
    expect(browser.cspViolations).toEqual([]);
  });

  it("owner: sees a credential's usage from My agents (by hour and by day); never another owner's, even by editing the URL", async () => {
    const { context, page } = await browser.open(world.tokenA.token);
    await page.goto('/console/agents');
    await page.getByRole('link', { name: world.a1.clientId }).click();
    const usage = page.getByTestId('usage');
    await usage.getByRole('heading', { name: 'Usage' }).waitFor();
    const summary = page.getByTestId('usage-summary');
    await summary.getByText('10 (2 denied)').waitFor();
    expect(await page.getByTestId('top-ips').textContent()).toContain('198.51.100.7');
    expect(await page.getByTestId('usage-events').locator('tbody tr').count()).toBe(10);
    await page.getByTestId('usage-events').getByText('/invoices/42/lines').waitFor();
    await page.getByTestId('usage-events').getByText('IP_DENIED').first().waitFor();
    expect(await usage.textContent()).toContain('billing:write');
    await shot(page, 'owner-credential-usage');
    await axe(page, 'credential usage');

    // By day, keyboard only.
    await tabTo(page, (el) => el.text === 'Last 30 days, by day');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Last 30 days, by day', pressed: true }).waitFor();
    await summary.getByText('10 (2 denied)').waitFor();
    // The button shows pressed before the day buckets arrive: wait for the chart itself to be the daily one.
    await usage.locator('[role="img"][aria-label^="Calls per day: 10 in all, 2 denied"]').waitFor();

    // Another owner's credential: the page and the usage routes refuse, and nothing of it shows.
    await page.goto(`/console/credentials/${world.b[0].id}`);
    await page
      .getByText(/Not allowed/)
      .first()
      .waitFor();
    const content = await page.content();
    expect(content).not.toContain(world.b[0].clientId);
    expect(content).not.toContain('192.0.2.201');
    const direct = await page.evaluate(async (id) => {
      const a = await fetch(`/v1/credentials/${id}/usage`);
      const b = await fetch(`/v1/usage/events?credentialId=${id}`);
      const c = await fetch('/v1/usage/events?limit=500');
      return { usage: a.status, events: b.status, mine: await c.text() };
    }, world.b[0].id);
    expect(direct.usage).toBe(403);
    expect(direct.events).toBe(403);
    expect(direct.mine).not.toContain('192.0.2.201');
    // Responder pages are not an owner's.
    for (const path of ['/console/revocations', '/console/bulk-revoke']) {
      await page.goto(path);
      await page.getByRole('heading', { name: 'Not here' }).waitFor();
    }
    await context.close();
  });

  it('responder: a pasted key is looked up without changing anything, kept nowhere, and revoked only after a confirm step', async () => {
    const key: string = world.leakedSecret;
    const { context, page } = await browser.open(world.responder.token);
    const requests: Array<{ url: string; body: string }> = [];
    page.on('request', (request) => requests.push({ url: request.url(), body: request.postData() ?? '' }));
    await page.getByRole('heading', { name: 'Respond' }).waitFor();

    // Keyboard only: paste, Enter.
    await tabTo(page, (el) => el.id === 'q');
    await page.keyboard.insertText(key);
    await page.keyboard.press('Enter');
    const result = page.getByTestId('leak-result');
    await result.getByText(`This key is version 1 of ${world.leaked.clientId}`).waitFor();
    await result.getByText(/Nothing has been changed yet/).waitFor();
    expect(await page.getByLabel(/Find a credential/).inputValue()).toBe('');
    expect((await t.http.get(`/v1/credentials/${world.leaked.id}`, t.adminToken)).body.status).toBe('active');
    await shot(page, 'responder-leak-lookup');
    await axe(page, 'leak lookup');

    // The confirm step names what happens and asks where it was found.
    await tabTo(page, (el) => el.text === 'Revoke this credential…');
    await page.keyboard.press('Enter');
    await result.getByText(/Revokes .* for good as a leaked key/).waitFor();
    await focusInConfirm(page);
    await page.keyboard.type('pasted in a public gist');
    await tabTo(page, (el) => el.text === 'Revoke credential');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/console\/revocations\//);
    await page
      .getByTestId('propagation-status')
      .getByText(/^Complete/)
      .waitFor({ timeout: 30_000 });
    const credential = (await t.http.get(`/v1/credentials/${world.leaked.id}`, t.adminToken)).body;
    expect(credential).toMatchObject({ status: 'revoked', revokedReason: 'leak reported: pasted in a public gist' });

    // The key went out once, in the lookup's body; the confirm step sent its hash.
    const leakCalls = requests.filter((r) => r.url.endsWith('/v1/leaks'));
    expect(leakCalls).toHaveLength(2);
    expect(JSON.parse(leakCalls[0].body)).toEqual({ secret: key, action: 'none' });
    expect(JSON.parse(leakCalls[1].body)).toEqual({
      secretSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      action: 'revoke',
      source: 'pasted in a public gist',
    });
    expect(requests.filter((r) => r.body.includes(key))).toHaveLength(1);
    expect(requests.filter((r) => r.url.includes(key) || r.url.includes(encodeURIComponent(key)))).toEqual([]);
    const kept = await page.evaluate(() => ({
      url: location.href,
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
      html: document.documentElement.outerHTML,
    }));
    for (const place of Object.values(kept)) expect(place).not.toContain(key);
    expect(t.logs.text()).not.toContain(key);
    const audit = await t.http.get('/v1/audit-events?action=leak.reported', t.adminToken);
    expect(audit.body.items.map((e: any) => e.data.requestedAction).sort()).toEqual(['none', 'revoke']);
    expect(JSON.stringify(audit.body)).not.toContain(key);

    // Emergency rotation of another leaked key, and a key nobody ever had.
    await page.getByRole('link', { name: 'Respond' }).click();
    await page.getByLabel(/Find a credential/).fill(world.rotatedSecret);
    await page.keyboard.press('Enter');
    await result.getByText(`This key is version 1 of ${world.rotated.clientId}`).waitFor();
    await result.getByRole('button', { name: 'Emergency rotate…' }).click();
    await result.getByText(/callers still using the leaked key are refused/).waitFor();
    await result.getByLabel('Where was it found? (recorded as the reason)').fill('support ticket 4411');
    await result.getByRole('button', { name: 'Rotate now, no grace period' }).click();
    await result.getByText(/Emergency rotation started/).waitFor();
    const rotations = await t.http.get(`/v1/credentials/${world.rotated.id}/rotations`, t.adminToken);
    expect(rotations.body.items).toHaveLength(1);
    expect(await page.content()).not.toContain(world.rotatedSecret);
    // Once the new version is promoted the leaked one is retired: pasted again, nothing to revoke, and an alert says a copy is out there.
    await eventually(
      async () => (await t.http.get(`/v1/credentials/${world.rotated.id}`, t.adminToken)).body.secretVersion === 2,
      30_000,
      'the emergency rotation promoted version 2',
    );
    await page.getByLabel(/Find a credential/).fill(world.rotatedSecret);
    await page.keyboard.press('Enter');
    await result.getByText(/It is a retired secret: gateways refuse it already/).waitFor();
    await result.getByText(/Gateways refuse this key already; nothing to revoke\. A retired-key alert was raised/).waitFor();
    expect(await result.getByRole('button').count()).toBe(0);

    await page.getByLabel(/Find a credential/).fill(`agk_live_${'Z'.repeat(43)}`);
    await page.keyboard.press('Enter');
    await result.getByText('No credential ever had this key. Nothing was changed.').waitFor();
    expect(t.logs.text()).not.toContain(world.rotatedSecret);

    // An API token pasted by mistake is not a credential key: said so, and sent nowhere.
    await page.getByLabel(/Find a credential/).fill(world.responder.token);
    await page.keyboard.press('Enter');
    await page.getByText(/That is an API token, not a credential key/).waitFor();
    expect(requests.filter((r) => r.body.includes(world.responder.token) || r.url.includes(world.responder.token))).toEqual([]);
    expect(await page.getByLabel(/Find a credential/).inputValue()).toBe('');
    await context.close();
  });

  it("responder: reads a credential's usage; revokes by filter (count and sample first, then a reason), watches propagation complete, and finds it in the list", async () => {
    const { context, page } = await browser.open(world.responder.token);
    // A responder reads any credential's usage (here, one found by its client id).
    await page.getByLabel(/Find a credential/).fill(world.a1.clientId);
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: 'Open' }).first().click();
    await page.getByTestId('usage-summary').getByText('10 (2 denied)').waitFor();

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Revoke by filter' }).click();
    await page.getByRole('heading', { name: 'Revoke by filter' }).waitFor();
    await page.getByLabel('Owner').selectOption({ label: 'Search team' });
    await page.getByLabel('Environment').selectOption('production');
    await page.getByRole('button', { name: 'Count matches' }).click();
    const preview = page.getByTestId('bulk-preview');
    await preview.getByRole('heading', { name: '3 credentials match' }).waitFor();
    for (const c of world.b) await preview.getByText(c.clientId).waitFor();
    expect(await preview.textContent()).not.toContain(world.bSandbox.clientId);
    for (const c of world.b) expect((await t.http.get(`/v1/credentials/${c.id}`, t.adminToken)).body.status).toBe('active');
    await shot(page, 'responder-bulk-preview');
    await axe(page, 'revoke by filter');

    // A changed filter voids the count: nothing to confirm until counted again.
    await page.getByLabel('Environment').selectOption('');
    await preview.waitFor({ state: 'detached' });
    await page.getByLabel('Environment').selectOption('production');
    await tabTo(page, (el) => el.text === 'Count matches');
    await page.keyboard.press('Enter');
    await preview.getByRole('heading', { name: '3 credentials match' }).waitFor();

    await tabTo(page, (el) => el.text === 'Revoke all 3…');
    await page.keyboard.press('Enter');
    await preview.getByText(/Revokes every credential this filter matches now \(3 when counted\)/).waitFor();
    await focusInConfirm(page);
    await page.keyboard.type('search-indexer production keys exposed in a log bundle');
    await tabTo(page, (el) => el.text === 'Revoke 3 credentials');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/console\/revocations\/[0-9a-f-]{36}$/);
    const revocationId = page.url().split('/').pop()!;
    await page
      .getByTestId('propagation-status')
      .getByText(/^Complete/)
      .waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('propagation').locator('tbody tr').first().textContent()).toContain('3 of 3');
    await shot(page, 'responder-bulk-propagation');
    await axe(page, 'bulk propagation');
    for (const c of world.b) expect((await t.http.get(`/v1/credentials/${c.id}`, t.adminToken)).body.status).toBe('revoked');
    expect((await t.http.get(`/v1/credentials/${world.bSandbox.id}`, t.adminToken)).body.status).toBe('active');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Revocations' }).click();
    const list = page.getByTestId('revocations');
    const row = list.locator('tr', { hasText: 'search-indexer production keys exposed' });
    await row.waitFor();
    expect(await row.textContent()).toContain('by filter');
    expect(await row.locator('td').nth(2).textContent()).toBe('3');
    await shot(page, 'responder-revocations');
    await axe(page, 'revocations');
    await page.getByLabel('Status').selectOption('failed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('No revocation matches.').waitFor();
    await page.getByLabel('Status').selectOption('complete');
    await page.getByRole('button', { name: 'Filter' }).click();
    await row.getByRole('link', { name: 'View propagation' }).click();
    await page.waitForURL(new RegExp(`/console/revocations/${revocationId}$`));
    await context.close();
  });

  it('auditor: reads the revocations list, and has no way to revoke', async () => {
    const { context, page } = await browser.open(world.auditor.token);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Revocations' }).click();
    await page.getByTestId('revocations').locator('tbody tr').first().waitFor();
    expect(await page.getByRole('link', { name: 'Revoke by filter…' }).count()).toBe(0);
    await axe(page, 'revocations (auditor)');
    await page.goto('/console/bulk-revoke');
    await page.getByRole('heading', { name: 'Not here' }).waitFor();
    await context.close();
  });
});
