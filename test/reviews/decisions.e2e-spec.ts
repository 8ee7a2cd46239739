import { AttestedDecision, decisionsSha256 } from '../../src/reviews/decisions-digest';
import { Fixtures } from '../support/fixtures';
import { GatewayReceiver } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';
import { ReviewHelpers } from './review-helpers';

/**
 * Decisions carried out at once (the credential and the gateways), their
 * conflicts and authorization, and sign-off over a stable digest.
 */
describe('review decisions and sign-off', () => {
  let t: TestApp;
  let f: Fixtures;
  let h: ReviewHelpers;
  let gateway: GatewayReceiver;
  let product: any;
  let ownerA: any;
  let ownerB: any;
  let agentA: any;
  let agentB: any;
  let tokenA: { id: string; token: string };
  let tokenB: { id: string; token: string };
  let campaign: any;
  const cred: Record<string, any> = {};
  const item: Record<string, any> = {};

  const scopes = (...ops: string[]) => ops.map((op) => `${product.name}:${op}`);

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    h = new ReviewHelpers(t, f);
    gateway = await GatewayReceiver.start();
    const g = await t.http.post('/v1/gateways', { name: 'gw-reviews', url: gateway.url, environments: ['production'] }, t.adminToken);
    expect(g.status).toBe(201);
    product = await f.product();
    ownerA = await f.owner();
    ownerB = await f.owner();
    agentA = await f.agent(ownerA.id);
    agentB = await f.agent(ownerB.id);
    tokenA = await f.token('owner', ownerA.id);
    tokenB = await f.token('owner', ownerB.id);
    for (const name of ['keep', 'reduce', 'revoke', 'elsewhere', 'byAdmin', 'withPendingChange']) {
      cred[name] = (await f.credential(agentA.id, scopes('read', 'write'))).credential;
    }
    cred.ofB = (await f.credential(agentB.id, scopes('read'))).credential;
    // A change adding a delete scope waits for approval; a review reduce must drop it.
    const patch = await t.http.patch(
      `/v1/credentials/${cred.withPendingChange.id}`,
      { scopes: scopes('read', 'write', 'delete') },
      f.admin,
    );
    expect(patch.status).toBe(202);
    campaign = await h.open({ name: 'decisions', ownerIds: [ownerA.id, ownerB.id] });
    for (const [name, c] of Object.entries(cred)) item[name] = await h.itemOf(campaign.id, c.id);
  });
  afterAll(async () => {
    await t.close();
    await gateway.close();
  });

  it('keep leaves the credential as it is and records who decided', async () => {
    const r = await h.decide(campaign.id, item.keep.id, { decision: 'keep', comment: 'still needed for billing' }, tokenA.token);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: item.keep.id,
      status: 'decided',
      decision: 'keep',
      decidedBy: tokenA.id,
      decidedAt: t.clock.now().toISOString(),
      comment: 'still needed for billing',
      outcome: 'kept',
      scopesAfter: scopes('read', 'write'),
    });
    const after = await h.credential(cred.keep.id);
    expect(after).toMatchObject({ status: 'active', scopes: scopes('read', 'write'), updatedAt: cred.keep.updatedAt });
    expect(await h.auditActions(item.keep.id)).toEqual(['review.decided']);
  });

  it('reduce narrows the scopes at once and the gateways hear credential.updated', async () => {
    const r = await h.decide(campaign.id, item.reduce.id, { decision: 'reduce', scopes: scopes('read') }, tokenA.token);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'decided', decision: 'reduce', outcome: 'reduced', scopesAfter: scopes('read') });
    expect(r.body.snapshot.scopes).toEqual(scopes('read', 'write'));
    expect((await h.credential(cred.reduce.id)).scopes).toEqual(scopes('read'));
    await gateway.waitFor((g) => g.events('credential.updated', cred.reduce.id).length === 1, 10_000, 'credential.updated');
    expect(gateway.events('credential.updated', cred.reduce.id)[0].json.data.scopes).toEqual(scopes('read'));
    expect(await h.auditActions(cred.reduce.id)).toContain('credential.updated');
    expect(await h.auditActions(item.reduce.id)).toEqual(['review.decided']);
  });

  it('reduce drops a change that was waiting for approval', async () => {
    expect((await h.credential(cred.withPendingChange.id)).pendingChange).not.toBeNull();
    const r = await h.decide(campaign.id, item.withPendingChange.id, { decision: 'reduce', scopes: scopes('write') }, tokenA.token);
    expect(r.status).toBe(200);
    const after = await h.credential(cred.withPendingChange.id);
    expect(after).toMatchObject({ scopes: scopes('write'), pendingChange: null });
    const audit = await t.http.get(`/v1/audit-events?targetId=${cred.withPendingChange.id}&action=credential.updated`, f.admin);
    expect(audit.body.items[0].data.droppedPendingChange.scopes).toEqual(scopes('read', 'write', 'delete'));
  });

  it('revoke revokes at once and the gateways hear credential.revoked', async () => {
    const r = await h.decide(campaign.id, item.revoke.id, { decision: 'revoke', comment: 'agent retired' }, tokenA.token);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'decided', decision: 'revoke', outcome: 'revoked', scopesAfter: [] });
    const after = await h.credential(cred.revoke.id);
    expect(after.status).toBe('revoked');
    expect(after.revokedReason).toContain(campaign.id);
    await gateway.waitFor((g) => g.events('credential.revoked', cred.revoke.id).length === 1, 10_000, 'credential.revoked');
    expect(await h.auditActions(cred.revoke.id)).toContain('credential.revoked');
  });

  it('refuses a reduce that is not a non-empty strict subset (400 naming scopes) and changes nothing', async () => {
    const cases: Array<Record<string, unknown>> = [
      { decision: 'reduce', scopes: scopes('read', 'delete') },
      { decision: 'reduce', scopes: scopes('read', 'write') },
      { decision: 'reduce', scopes: [] },
      { decision: 'reduce', scopes: [scopes('read')[0], scopes('read')[0]] },
      { decision: 'reduce' },
      { decision: 'keep', scopes: scopes('read') },
    ];
    for (const body of cases) {
      const r = await h.decide(campaign.id, item.byAdmin.id, body, tokenA.token);
      expect({ body, status: r.status }).toEqual({ body, status: 400 });
      expect(r.body.errors.map((e: any) => e.field)).toContain('scopes');
    }
    const bad = await h.decide(campaign.id, item.byAdmin.id, { decision: 'drop' }, tokenA.token);
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('decision');
    expect((await h.itemOf(campaign.id, cred.byAdmin.id)).status).toBe('pending');
    expect((await h.credential(cred.byAdmin.id)).scopes).toEqual(scopes('read', 'write'));
  });

  it("keeps owners out of each other's items (403) and answers 404 for items that are not there", async () => {
    expect((await h.decide(campaign.id, item.byAdmin.id, { decision: 'revoke' }, tokenB.token)).status).toBe(403);
    expect((await h.decide(campaign.id, item.ofB.id, { decision: 'keep' }, tokenA.token)).status).toBe(403);
    const other = await h.open({ name: 'other', ownerIds: [ownerB.id] });
    expect((await h.decide(other.id, item.byAdmin.id, { decision: 'keep' }, f.admin)).status).toBe(404);
    expect((await h.decide(campaign.id, '7a1f4a8e-8f5e-4c1e-9a51-3a4b5c6d7e8f', { decision: 'keep' }, f.admin)).status).toBe(404);
    for (const role of ['auditor', 'responder'] as const) {
      expect((await h.decide(campaign.id, item.byAdmin.id, { decision: 'keep' }, (await f.token(role)).token)).status).toBe(403);
    }
    expect((await h.itemOf(campaign.id, cred.byAdmin.id)).status).toBe('pending');
    expect((await h.credential(cred.byAdmin.id)).status).toBe('active');
  });

  it('lets an admin decide any item, and a second decision is a 409', async () => {
    const r = await h.decide(campaign.id, item.byAdmin.id, { decision: 'keep' }, f.admin);
    expect(r.status).toBe(200);
    expect(r.body.decidedBy).toBe('bootstrap-admin');
    const again = await h.decide(campaign.id, item.byAdmin.id, { decision: 'revoke' }, tokenA.token);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('ITEM_ALREADY_DECIDED');
    expect((await h.credential(cred.byAdmin.id)).status).toBe('active');
  });

  it('answers 409 for a credential revoked by someone else, and the item shows it', async () => {
    await h.revoke(cred.elsewhere.id, 'leaked on a pastebin');
    const r = await h.decide(campaign.id, item.elsewhere.id, { decision: 'keep' }, tokenA.token);
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('CREDENTIAL_ALREADY_REVOKED');
    const shown = await h.itemOf(campaign.id, cred.elsewhere.id);
    expect(shown).toMatchObject({ status: 'decided', decision: null, outcome: 'revoked_elsewhere', scopesAfter: [] });
    expect((await h.decide(campaign.id, item.elsewhere.id, { decision: 'revoke' }, tokenA.token)).body.code).toBe('ITEM_ALREADY_DECIDED');
  });

  describe('sign-off', () => {
    it('is refused while any item of the owner is pending (409), and for other roles (403)', async () => {
      const r = await t.http.post(`/v1/campaigns/${campaign.id}/signoff`, {}, tokenB.token);
      expect(r.status).toBe(409);
      expect(r.body.code).toBe('ITEMS_PENDING');
      expect((await t.http.post(`/v1/campaigns/${campaign.id}/signoff`, {}, f.admin)).status).toBe(403);
      const stranger = await f.token('owner', (await f.owner()).id);
      const none = await t.http.post(`/v1/campaigns/${campaign.id}/signoff`, {}, stranger.token);
      expect(none.status).toBe(409);
      expect(none.body.code).toBe('NOTHING_TO_SIGN_OFF');
      expect(await t.dataSource.query('SELECT 1 FROM campaign_signoffs WHERE campaign_id = $1', [campaign.id])).toHaveLength(0);
    });

    it('is accepted once everything is decided, with a digest anyone can recompute', async () => {
      const r = await t.http.post(`/v1/campaigns/${campaign.id}/signoff`, { statement: 'Reviewed with the team.' }, tokenA.token);
      expect(r.status).toBe(201);
      const items = await h.items(campaign.id, tokenA.token);
      expect(r.body).toMatchObject({
        campaignId: campaign.id,
        ownerId: ownerA.id,
        signedBy: tokenA.id,
        signedAt: t.clock.now().toISOString(),
        statement: 'Reviewed with the team.',
        itemCount: items.length,
      });
      const attested: AttestedDecision[] = items.map((i) => ({
        itemId: i.id,
        credentialId: i.credentialId,
        status: i.status,
        decision: i.decision,
        scopesBefore: i.snapshot.scopes,
        scopesAfter: i.scopesAfter,
        outcome: i.outcome,
        decidedBy: i.decidedBy,
        decidedAt: i.decidedAt,
        comment: i.comment,
      }));
      expect(r.body.decisionsSha256).toBe(decisionsSha256(attested));
      expect(r.body.decisionsSha256).toBe(decisionsSha256([...attested].reverse()));

      const progress = await t.http.get(`/v1/campaigns/${campaign.id}`, f.admin);
      expect(progress.body.owners.find((o: any) => o.ownerId === ownerA.id)).toMatchObject({
        signedOffAt: r.body.signedAt,
        decisionsSha256: r.body.decisionsSha256,
        pending: 0,
      });
      const report = await t.http.get(`/v1/campaigns/${campaign.id}/report`, f.admin);
      expect(report.body.signoffs).toEqual([r.body]);
      const audit = await t.http.get(`/v1/audit-events?targetId=${campaign.id}&action=campaign.signed_off`, f.admin);
      expect(audit.body.items[0].data).toMatchObject({ ownerId: ownerA.id, decisionsSha256: r.body.decisionsSha256 });

      const again = await t.http.post(`/v1/campaigns/${campaign.id}/signoff`, {}, tokenA.token);
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('ALREADY_SIGNED_OFF');
    });
  });

  it('refuses decisions once the campaign is closed (409 CAMPAIGN_CLOSED)', async () => {
    const closed = await t.http.post(`/v1/campaigns/${campaign.id}/close`, undefined, f.admin);
    expect(closed.status).toBe(200);
    const r = await h.decide(campaign.id, item.ofB.id, { decision: 'revoke' }, tokenB.token);
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('CAMPAIGN_CLOSED');
    expect((await h.credential(cred.ofB.id)).status).toBe('active');
  });

  it('keeps the audit chain valid', async () => {
    const r = await t.http.get('/v1/audit-events/verify', f.admin);
    expect(r.body.valid).toBe(true);
  });
});
