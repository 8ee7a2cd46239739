/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { buildConsole } from '../../scripts/build-console';
import { UsageRecorderService } from '../../src/enforcement/usage-recorder.service';
import { axe, ConsoleBrowser, focusInConfirm, shot, twoOwnerWorld } from '../support/console-browser';
import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * The alerts page in Chromium against the real app: alerts raised by real
 * calls (POST /v1/verify from outside a credential's allowlist, detected in
 * the usage recorder's flush); a responder acknowledges one and resolves it
 * with a note, by keyboard; an owner reads only its own credentials' alerts
 * and cannot act on them.
 */
jest.setTimeout(180_000);

describe('the console: alerts', () => {
  let t: TestApp;
  let f: Fixtures;
  let browser: ConsoleBrowser;
  const world: Record<string, any> = {};

  beforeAll(async () => {
    await buildConsole();
    t = await startTestApp();
    f = new Fixtures(t);
    const { ownerA, ownerB, agentA, agentB, gatewayToken } = await twoOwnerWorld(t, f);
    Object.assign(world, { ownerA, ownerB });
    const allowlisted = { ipAllowlist: ['203.0.113.0/24'] };
    world.a = await f.credential(agentA.id, ['billing:read'], allowlisted);
    world.b = await f.credential(agentB.id, ['billing:read'], allowlisted);
    const verify = async (made: { secret?: string }, ip: string) =>
      (await t.http.post('/v1/verify', { key: made.secret, scope: 'billing:read', ip }, gatewayToken)).body.code;
    expect(await verify(world.a, '203.0.113.9')).toBe('VALID');
    expect(await verify(world.a, '192.0.2.50')).toBe('IP_DENIED');
    expect(await verify(world.a, '192.0.2.50')).toBe('IP_DENIED');
    expect(await verify(world.b, '192.0.2.77')).toBe('IP_DENIED');
    await t.app.get(UsageRecorderService).flush();
    const alertOf = async (made: any) =>
      (await t.http.get(`/v1/alerts?credentialId=${made.credential.id}&type=ip_not_allowed`, t.adminToken)).body.items[0];
    world.alertA = await alertOf(world.a);
    world.alertB = await alertOf(world.b);
    expect(world.alertA).toMatchObject({ status: 'open', severity: 'high' });
    expect(world.alertB).toMatchObject({ status: 'open', severity: 'high' });

    world.tokenA = await f.token('owner', world.ownerA.id);
    world.responder = await f.token('responder');
    browser = await ConsoleBrowser.launch(t.baseUrl);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  afterEach(() => {
    expect(browser.offsite).toEqual([]);
    expect(browser.cspViolations).toEqual([]);
  });

  it('responder: sees open alerts with their evidence, acknowledges one and resolves it with a note, by keyboard', async () => {
    const { context, page } = await browser.open(world.responder.token);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).click();
    const table = page.getByTestId('alerts');
    const rowA = table.locator(`tr[data-alert="${world.alertA.id}"]`);
    await rowA.waitFor();
    await table.locator(`tr[data-alert="${world.alertB.id}"]`).waitFor();
    const text = await rowA.textContent();
    expect(text).toContain('Call from outside the IP allowlist');
    expect(text).toContain(world.a.credential.clientId);
    expect(text).toContain('192.0.2.50');
    expect(text).toContain('invoice-reconciler');
    await rowA.locator('.status-high').waitFor();
    await shot(page, 'responder-alerts');
    await axe(page, 'alerts');

    // The credential's page lists its alerts too, one link away.
    await rowA.getByRole('link', { name: world.a.credential.clientId }).click();
    const onCredential = page.getByTestId('credential-alerts');
    await onCredential.getByText('Call from outside the IP allowlist').waitFor();
    expect(await onCredential.locator('tbody tr').count()).toBe(1);
    await axe(page, 'credential with alerts');
    await page.getByRole('link', { name: 'Acknowledge or resolve on the Alerts page' }).click();
    await rowA.waitFor();

    await rowA.getByRole('button', { name: 'Acknowledge' }).focus();
    await page.keyboard.press('Enter');
    await rowA.locator('.status-acknowledged').waitFor();
    expect(await rowA.getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);
    expect((await t.http.get(`/v1/alerts/${world.alertA.id}`, t.adminToken)).body.status).toBe('acknowledged');

    await rowA.getByRole('button', { name: 'Resolve…' }).focus();
    await page.keyboard.press('Enter');
    await rowA.getByText(/Closes this alert\. .* does not revoke or rotate/).waitFor();
    await focusInConfirm(page);
    await axe(page, 'resolve alert');
    await page.keyboard.type('partner egress moved; allowlist updated');
    await page.keyboard.press('Enter');
    await rowA.locator('.status-resolved').waitFor();
    await rowA.getByText('“partner egress moved; allowlist updated”').waitFor();
    const resolved = (await t.http.get(`/v1/alerts/${world.alertA.id}`, t.adminToken)).body;
    expect(resolved).toMatchObject({ status: 'resolved', resolutionNote: 'partner egress moved; allowlist updated' });
    expect((await t.http.get(`/v1/alerts/${world.alertB.id}`, t.adminToken)).body.status).toBe('open');

    // Resolved ones leave the default view and show under Resolved.
    await page.getByRole('link', { name: 'Respond' }).click();
    await page.getByRole('link', { name: 'Alerts' }).click();
    await table.locator(`tr[data-alert="${world.alertB.id}"]`).waitFor();
    expect(await table.locator(`tr[data-alert="${world.alertA.id}"]`).count()).toBe(0);
    await page.getByLabel('Show').selectOption('resolved');
    await table.locator(`tr[data-alert="${world.alertA.id}"]`).getByText('partner egress moved').waitFor();
    await context.close();
  });

  it("owner: reads its own credentials' alerts only, and cannot act on them", async () => {
    const { context, page } = await browser.open(world.tokenA.token);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).click();
    await page.getByLabel('Show').selectOption('resolved');
    await page.getByTestId('alerts').locator(`tr[data-alert="${world.alertA.id}"]`).waitFor();
    await page.getByLabel('Show').selectOption('unresolved');
    await page
      .getByText(/No alerts need attention|alert\(s\)/)
      .first()
      .waitFor();
    const content = await page.content();
    expect(content).not.toContain(world.b.credential.clientId);
    expect(content).not.toContain(world.alertB.id);
    expect(await page.getByRole('button', { name: /Acknowledge|Resolve/ }).count()).toBe(0);
    await axe(page, 'alerts (owner)');
    const other = await page.evaluate(async (id) => (await fetch(`/v1/alerts/${id}`)).status, world.alertB.id);
    expect(other).toBe(404);
    await context.close();
  });
});
