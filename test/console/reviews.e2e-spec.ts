/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { buildConsole } from '../../scripts/build-console';
import { DAY_MS } from '../../src/common/clock/clock';
import { UsageRecorderService } from '../../src/enforcement/usage-recorder.service';
import { axe, ConsoleBrowser, focusInConfirm, shot, tabTo, twoOwnerWorld } from '../support/console-browser';
import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * The owner's review page with usage and recommendations, in Chromium against
 * the real app: items show the calls before the campaign opened and what they
 * recommend; "accept the recommendations" decides every pending item as shown,
 * after saying what it will do and asking for a reason; the decisions are
 * carried out; another owner's items stay out of sight. Time is driven by the
 * injected clock (credentials issued 100 days before the campaign opens).
 */
jest.setTimeout(180_000);

describe('the console: review items with usage and recommendations', () => {
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
    const issue = async (agentId: string) => f.credential(agentId, ['billing:read', 'billing:write']);
    world.unused = await issue(agentA.id);
    world.partial = await issue(agentA.id);
    world.full = await issue(agentA.id);
    world.other = await issue(agentB.id);

    // 100 days on: `partial` reads only, `full` reads and writes, `unused` is never called.
    t.clock.advance(100 * DAY_MS);
    const verify = async (made: { secret?: string }, scope: string) => {
      const r = await t.http.post('/v1/verify', { key: made.secret, scope, ip: '203.0.113.10' }, gatewayToken);
      expect(r.body.code).toBe('VALID');
    };
    for (let i = 0; i < 3; i++) await verify(world.partial, 'billing:read');
    await verify(world.full, 'billing:read');
    await verify(world.full, 'billing:write');
    await verify(world.other, 'billing:read');
    await t.app.get(UsageRecorderService).flush();

    const campaign = await t.http.post('/v1/campaigns', { name: 'Q1 access review' }, t.adminToken);
    expect(campaign.status).toBe(201);
    world.campaign = campaign.body;
    world.tokenA = await f.token('owner', world.ownerA.id);
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

  it('owner: sees usage and recommendations, accepts them in bulk with a reason, signs off; never sees another owner', async () => {
    const { context, page } = await browser.open(world.tokenA.token);
    await page.getByRole('heading', { name: 'My reviews' }).waitFor();
    const items = page.getByTestId('review-items');
    await items.getByText(world.partial.credential.clientId).waitFor();
    expect(await items.locator('tbody tr').count()).toBe(3);
    expect(await page.content()).not.toContain(world.other.credential.clientId);
    const row = (made: any) => items.locator('tr', { hasText: made.credential.clientId });
    expect(await row(world.unused).textContent()).toContain('No call was allowed in the 90 days before the campaign opened');
    await row(world.unused).locator('.status-revoke').waitFor();
    await row(world.partial).getByText('3 calls in 90 d').waitFor();
    await row(world.partial).locator('.status-reduce').waitFor();
    expect(await row(world.partial).textContent()).toContain('never with billing:write');
    await row(world.full).locator('.status-keep').waitFor();
    const accept = page.getByTestId('accept-recommendations');
    await accept.getByText('Recommendations for 3 of 3 pending item(s): keep 1, reduce 1, revoke 1.').waitFor();
    await shot(page, 'owner-reviews-recommendations');
    await axe(page, 'my reviews with recommendations');

    // Keyboard only: open the confirm step, read what it does, give the reason, confirm.
    await tabTo(page, (el) => el.text === 'Accept 3 recommendations…');
    await page.keyboard.press('Enter');
    await accept.getByText(/keeps 1, reduces 1 to the scopes they used, revokes 1 now/).waitFor();
    await focusInConfirm(page);
    await axe(page, 'accept recommendations: confirm');
    await page.keyboard.type('quarter-end review: usage checked');
    await tabTo(page, (el) => el.text === 'Decide as recommended');
    await page.keyboard.press('Enter');
    await row(world.unused).locator('td.decision .status-revoke').waitFor();
    await row(world.partial).locator('td.decision .status-reduce').waitFor();
    await row(world.full).locator('td.decision .status-keep').waitFor();
    await accept.waitFor({ state: 'detached' });

    const get = async (made: any) => (await t.http.get(`/v1/credentials/${made.credential.id}`, t.adminToken)).body;
    expect((await get(world.unused)).status).toBe('revoked');
    expect((await get(world.partial)).scopes).toEqual(['billing:read']);
    expect((await get(world.full)).scopes).toEqual(['billing:read', 'billing:write']);
    expect((await get(world.other)).status).toBe('active');
    const decided = await t.http.get(`/v1/campaigns/${world.campaign.id}/items?ownerId=${world.ownerA.id}`, t.adminToken);
    expect(decided.body.items.map((i: any) => i.comment)).toEqual(Array(3).fill('quarter-end review: usage checked'));

    await tabTo(page, (el) => el.tag === 'TEXTAREA');
    await page.keyboard.type('Reviewed with the payments on-call.');
    await tabTo(page, (el) => el.text === 'Sign off');
    await page.keyboard.press('Enter');
    const signed = page.getByTestId('signed-off');
    await signed.waitFor();
    const hash = /[0-9a-f]{64}/.exec((await signed.textContent()) ?? '')![0];
    const progress = await t.http.get(`/v1/campaigns/${world.campaign.id}`, t.adminToken);
    expect(progress.body.owners.find((o: any) => o.ownerId === world.ownerA.id).decisionsSha256).toBe(hash);

    // Another owner's items, by editing the URL: refused, nothing shown.
    await page.goto(`/console/campaigns/${world.campaign.id}/owners/${world.ownerB.id}`);
    await page
      .getByText(/Not allowed/)
      .first()
      .waitFor();
    expect(await page.content()).not.toContain(world.other.credential.clientId);
    await context.close();
  });
});
