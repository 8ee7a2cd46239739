/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { buildConsole } from '../../scripts/build-console';
import { axe, ConsoleBrowser, focusInConfirm, shot, tabTo } from '../support/console-browser';
import { Fixtures } from '../support/fixtures';
import { GatewayReceiver } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * The console in a real browser (Debian's Chromium, driven by playwright-core)
 * against the real app: each role's main flow, keyboard only where it matters,
 * axe-core on every page, and screenshots for the README.
 */
// A browser on a shared two-core machine: each flow gets three minutes.
jest.setTimeout(180_000);

describe('the console in Chromium', () => {
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
    world.gateway = gw.body.gateway;

    const product = await f.product('billing');
    world.product = product;
    world.ownerA = await f.owner({ name: 'Payments team' });
    world.ownerB = await f.owner({ name: 'Search team' });
    world.agentA = (await t.http.post('/v1/agents', { name: 'invoice-reconciler', ownerId: world.ownerA.id }, t.adminToken)).body;
    world.agentB = (await t.http.post('/v1/agents', { name: 'search-indexer', ownerId: world.ownerB.id }, t.adminToken)).body;
    world.c1 = (await f.credential(world.agentA.id, ['billing:read', 'billing:write'])).credential;
    world.c2 = (await f.credential(world.agentA.id, ['billing:read'], { environment: 'sandbox' })).credential;
    world.c3 = (await f.credential(world.agentA.id, ['billing:read', 'billing:write'], { environment: 'sandbox' })).credential;
    world.cB = (await f.credential(world.agentB.id, ['billing:read'])).credential;
    const campaign = await t.http.post('/v1/campaigns', { name: 'Q4 access review' }, t.adminToken);
    expect(campaign.status).toBe(201);
    world.campaign = campaign.body;
    world.c4 = (await f.credential(world.agentA.id, ['billing:read'])).credential;

    world.tokenA = await f.token('owner', world.ownerA.id);
    world.tokenB = await f.token('owner', world.ownerB.id);
    world.responder = await f.token('responder');
    world.auditor = await f.token('auditor');
    // Waiting for approval: one the owner asked for, one the (bootstrap) admin asked for itself.
    world.pending = (await f.credential(world.agentA.id, ['billing:delete'], {}, world.tokenA.token)).credential;
    world.ownPending = (await f.credential(world.agentB.id, ['billing:admin'])).credential;

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

  const open = (token: string) => browser.open(token);

  it('owner: reviews its items (keep, reduce, revoke), signs off and sees the decisions hash; never sees another owner', async () => {
    const { context, page } = await open(world.tokenA.token);
    await page.getByRole('heading', { name: 'My reviews' }).waitFor();
    const items = page.getByTestId('review-items');
    await items.getByText(world.c1.clientId).waitFor();
    expect(await items.locator('tbody tr').count()).toBe(3);
    expect(await page.content()).not.toContain(world.cB.clientId);
    await shot(page, 'owner-reviews');
    await axe(page, 'my reviews');

    // Reduce c1 to read only.
    const row1 = page.locator('tr', { hasText: world.c1.clientId });
    await row1.getByRole('button', { name: 'Reduce…' }).click();
    await row1.getByRole('checkbox', { name: 'billing:write' }).uncheck();
    await row1.getByRole('button', { name: 'Keep only these' }).click();
    await row1.locator('td.decision .status-reduce').waitFor();

    // Keep c2 with the keyboard.
    const row2 = page.locator('tr', { hasText: world.c2.clientId });
    await row2.getByRole('button', { name: 'Keep' }).focus();
    await page.keyboard.press('Enter');
    await row2.locator('td.decision .status-keep').waitFor();

    // Revoke c3, giving a reason.
    const row3 = page.locator('tr', { hasText: world.c3.clientId });
    await row3.getByRole('button', { name: 'Revoke…' }).click();
    await row3.getByText(/Revokes .* now: gateways stop accepting it/).waitFor();
    await row3.getByLabel('Reason (recorded in the audit log)').fill('agent no longer writes invoices');
    await row3.getByRole('button', { name: 'Revoke credential' }).click();
    await row3.locator('td.decision .status-revoke').waitFor();
    expect((await t.http.get(`/v1/credentials/${world.c3.id}`, t.adminToken)).body.status).toBe('revoked');
    expect((await t.http.get(`/v1/credentials/${world.c1.id}`, t.adminToken)).body.scopes).toEqual(['billing:read']);

    // Sign off by keyboard.
    await tabTo(page, (el) => el.tag === 'TEXTAREA');
    await page.keyboard.type('Reviewed with the payments on-call.');
    await tabTo(page, (el) => el.text === 'Sign off');
    await page.keyboard.press('Enter');
    const signed = page.getByTestId('signed-off');
    await signed.waitFor();
    const hash = /[0-9a-f]{64}/.exec((await signed.textContent()) ?? '')![0];
    const progress = await t.http.get(`/v1/campaigns/${world.campaign.id}`, t.adminToken);
    expect(progress.body.owners.find((o: any) => o.ownerId === world.ownerA.id).decisionsSha256).toBe(hash);

    // Editing the URL shows nothing of another owner's.
    await page.goto(`/console/campaigns/${world.campaign.id}/owners/${world.ownerB.id}`);
    await page
      .getByText(/Not allowed/)
      .first()
      .waitFor();
    await page.goto(`/console/credentials/${world.cB.id}`);
    await page
      .getByText(/Not allowed/)
      .first()
      .waitFor();
    expect(await page.content()).not.toContain(world.cB.clientId);
    await context.close();
  });

  it('owner: requests a credential and sees its secret exactly once; claims an approved one once', async () => {
    const { context, page } = await open(world.tokenA.token);
    await page.goto('/console/agents');
    await page.getByRole('heading', { name: 'invoice-reconciler' }).waitFor();
    await shot(page, 'owner-agents');
    await axe(page, 'my agents');

    await page.getByRole('group', { name: 'Scopes' }).getByRole('checkbox', { name: 'billing:read' }).check();
    await page.getByRole('button', { name: 'Request credential' }).click();
    const secret = await page.getByTestId('secret-value').inputValue();
    expect(secret).toMatch(/^agk_/);
    await page.getByText('Shown once.').waitFor();
    await page.getByRole('button', { name: 'Copy' }).waitFor();
    await axe(page, 'secret shown once');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.getByRole('heading', { name: 'invoice-reconciler' }).waitFor();
    expect(await page.content()).not.toContain(secret);
    await page.reload();
    await page.getByRole('heading', { name: 'invoice-reconciler' }).waitFor();
    expect(await page.content()).not.toContain(secret);

    // Approved by an admin: the requester claims the secret once.
    expect((await t.http.post(`/v1/credentials/${world.pending.id}/approve`, {}, t.adminToken)).status).toBe(200);
    await page.goto(`/console/credentials/${world.pending.id}`);
    await page.getByRole('button', { name: 'Claim secret' }).click();
    expect(await page.getByTestId('secret-value').inputValue()).toMatch(/^agk_/);
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.getByRole('button', { name: 'Claim secret' }).click();
    // The second claim of the same version is refused, and the refusal is shown.
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/already handed out/);
    await expect(page.getByTestId('secret-value').count()).resolves.toBe(0);
    await context.close();
  });

  it('admin: approves from the queue (never its own request), and sees campaigns, failures, gateways, tokens and the queues', async () => {
    world.pending2 = (await f.credential(world.agentA.id, ['billing:delete', 'billing:read'], {}, world.tokenA.token)).credential;
    // Scope changes of active credentials wait in the same queue: one another admin asked for, one this admin asked for itself.
    const otherAdmin = await f.token('admin');
    const changed = (await f.credential(world.agentA.id, ['billing:read'])).credential;
    expect(
      (await t.http.patch(`/v1/credentials/${changed.id}`, { scopes: ['billing:read', 'billing:admin'] }, otherAdmin.token)).status,
    ).toBe(202);
    const ownChange = (await f.credential(world.agentA.id, ['billing:write'], { environment: 'sandbox' })).credential;
    expect(
      (await t.http.patch(`/v1/credentials/${ownChange.id}`, { scopes: ['billing:write', 'billing:delete'] }, t.adminToken)).status,
    ).toBe(202);

    const { context, page } = await open(t.adminToken);
    await page.getByRole('heading', { name: 'Approvals' }).waitFor();
    await page.getByText('Your own request: another admin approves it.').first().waitFor();
    const changeRow = page.getByTestId('pending-change').filter({ hasText: changed.clientId });
    await expect(changeRow.textContent()).resolves.toMatch(
      /Scope change: adds billing:admin.*now: billing:read.*requested: billing:read billing:admin/,
    );
    await expect(changeRow.textContent()).resolves.toContain(otherAdmin.id.slice(0, 8));
    const ownRow = page.getByTestId('pending-change').filter({ hasText: ownChange.clientId });
    await expect(ownRow.textContent()).resolves.toMatch(/Scope change: adds billing:delete.*Your own request: another admin approves it\./);
    await expect(page.getByRole('button', { name: `Approve scope change of ${ownChange.clientId}` }).count()).resolves.toBe(0);
    await shot(page, 'admin-approvals');
    await axe(page, 'approvals');
    await tabTo(page, (el) => el.text === `Approve ${world.pending2.clientId}`);
    await page.keyboard.press('Enter');
    await page.getByRole('cell', { name: world.pending2.clientId, exact: true }).waitFor({ state: 'detached' });
    expect((await t.http.get(`/v1/credentials/${world.pending2.id}`, t.adminToken)).body.status).toBe('active');

    // The other admin's change, approved by keyboard: the credential gains the scope; this admin's own change still waits.
    await tabTo(page, (el) => el.text === `Approve scope change of ${changed.clientId}`);
    await page.keyboard.press('Enter');
    await page.getByRole('cell', { name: changed.clientId, exact: true }).waitFor({ state: 'detached' });
    expect((await t.http.get(`/v1/credentials/${changed.id}`, t.adminToken)).body).toMatchObject({
      status: 'active',
      scopes: ['billing:read', 'billing:admin'],
      pendingChange: null,
    });
    await page.getByRole('cell', { name: ownChange.clientId, exact: true }).waitFor();
    await axe(page, 'approvals after approving');
    expect((await t.http.get(`/v1/credentials/${ownChange.id}`, t.adminToken)).body).toMatchObject({
      scopes: ['billing:write'],
      pendingChange: { status: 'pending_approval' },
    });

    await page.getByRole('link', { name: 'Campaigns' }).click();
    await page.getByRole('link', { name: 'Q4 access review', exact: true }).click();
    await page.getByTestId('owner-progress').waitFor();
    await shot(page, 'admin-campaign');
    await axe(page, 'campaign progress');

    for (const [link, heading, name] of [
      ['Failures', 'Failures', 'admin-failures'],
      ['API tokens', 'API tokens', 'admin-tokens'],
      ['Gateways', 'Gateways', 'admin-gateways'],
    ]) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link }).click();
      await page.getByRole('heading', { name: heading }).waitFor();
      await page
        .getByRole('table')
        .first()
        .or(page.getByText(/^No failed/).first())
        .waitFor();
      await shot(page, name);
      await axe(page, heading);
    }
    await page.getByRole('button', { name: 'Rotate signing secret of edge-1…' }).click();
    await page.getByRole('button', { name: 'Rotate signing secret', exact: true }).click();
    expect(await page.getByTestId('secret-value').inputValue()).toMatch(/^whsec_/);

    await page.goto('/admin/queues');
    await page.getByText('webhook-delivery').first().waitFor();
    await shot(page, 'admin-queues');
    await context.close();
  });

  it('responder: finds a credential, revokes it with a reason, and watches propagation reach complete on its own', async () => {
    const { context, page } = await open(world.responder.token);
    await page.getByRole('heading', { name: 'Respond' }).waitFor();
    // A pasted key nobody ever had: the leak lookup answers, nothing changes (the pasted-key flow is in test/console/pages.e2e-spec.ts).
    await page.getByLabel(/Find a credential/).fill('agk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    await page.keyboard.press('Enter');
    await page.getByText(/No credential ever had this key/).waitFor();

    await tabTo(page, (el) => el.id === 'q');
    await page.keyboard.type('invoice-reconciler');
    await page.keyboard.press('Enter');
    await page.getByText(world.c4.clientId).first().waitFor();
    await shot(page, 'responder-search');
    await axe(page, 'respond');

    await tabTo(page, (el) => el.text === `Revoke ${world.c4.clientId}…`);
    await page.keyboard.press('Enter');
    await focusInConfirm(page);
    await page.keyboard.type('key pasted in a public issue');
    await tabTo(page, (el) => el.text === 'Revoke credential');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/console\/revocations\//);
    const status = page.getByTestId('propagation-status');
    await status.getByText(/^Complete/).waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('propagation').locator('tbody tr').first().textContent()).toContain('delivered');
    await shot(page, 'responder-propagation');
    await axe(page, 'propagation');
    expect((await t.http.get(`/v1/credentials/${world.c4.id}`, t.adminToken)).body).toMatchObject({ status: 'revoked' });

    // A whole agent.
    await page.getByRole('link', { name: 'Respond' }).click();
    await page.getByLabel(/Find a credential/).fill('search-indexer');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Revoke agent search-indexer…' }).click();
    await page.getByLabel('Reason (recorded in the audit log)').fill('agent retired');
    await page.getByRole('button', { name: 'Revoke agent and all its credentials' }).click();
    await page
      .getByTestId('propagation-status')
      .getByText(/^Complete/)
      .waitFor({ timeout: 30_000 });
    expect((await t.http.get(`/v1/agents/${world.agentB.id}`, t.adminToken)).body.status).toBe('decommissioned');
    await context.close();
  });

  it('auditor: sees the chain verified first, filters the log, and downloads a campaign report', async () => {
    const { context, page } = await open(world.auditor.token);
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await page
      .getByTestId('chain-status')
      .getByText(/^Chain verified/)
      .waitFor();
    await page.getByTestId('audit-events').locator('tbody tr').first().waitFor();
    await shot(page, 'auditor-audit');
    await axe(page, 'audit log');
    await page.getByLabel('Action').fill('console.signed_in');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForFunction(() =>
      [...document.querySelectorAll('[data-testid="audit-events"] tbody tr td:nth-child(3)')].every(
        (td) => td.textContent === 'console.signed_in',
      ),
    );

    await page.getByRole('link', { name: 'Campaign reports' }).click();
    const csv = page.getByRole('link', { name: 'CSV report of Q4 access review' });
    await csv.waitFor();
    await axe(page, 'campaign reports');
    await shot(page, 'auditor-reports');
    const href = (await csv.getAttribute('href'))!;
    const report = await page.evaluate(async (url) => {
      const res = await fetch(url);
      return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
    }, href);
    expect(report.status).toBe(200);
    expect(report.type).toContain('text/csv');
    expect(report.text).toContain(world.c1.clientId);
    await context.close();
  });
});
