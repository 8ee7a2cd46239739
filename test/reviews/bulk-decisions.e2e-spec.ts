import { UsageRecorderService } from '../../src/enforcement/usage-recorder.service';
import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';
import { DAY, ReviewHelpers } from './review-helpers';

/**
 * POST /v1/campaigns/:id/decisions: several decisions, or the
 * recommendations accepted, in one all-or-nothing call; each item audited
 * exactly as a single decision is; the single route's role and owner rules;
 * bad input named by `items[i].field` with nothing stored.
 */
describe('bulk review decisions', () => {
  let t: TestApp;
  let f: Fixtures;
  let h: ReviewHelpers;
  let p: string;
  let ownerA: any;
  let ownerB: any;
  let agentA: any;
  let agentB: any;
  let tokenA: string;
  let tokenB: string;
  let gatewayToken: string;
  const scopes = (...ops: string[]) => ops.map((op) => `${p}:${op}`);
  const bulk = (campaignId: string, body: unknown, token = t.adminToken) =>
    t.http.post(`/v1/campaigns/${campaignId}/decisions`, body, token);
  const issue = async (agentId: string, ops = ['read', 'write']) => {
    const made = await f.credential(agentId, scopes(...ops));
    return { credential: made.credential, secret: made.secret! };
  };
  /** A campaign over fresh credentials of owner A (and B), and their items by name. */
  const campaignOver = async (names: string[], namesOfB: string[] = []) => {
    const made: Record<string, any> = {};
    for (const name of names) made[name] = (await issue(agentA.id)).credential;
    for (const name of namesOfB) made[name] = (await issue(agentB.id)).credential;
    const campaign = await h.open({ name: 'bulk', ownerIds: [ownerA.id, ownerB.id] });
    const all = await h.items(campaign.id);
    const item: Record<string, any> = {};
    for (const [name, credential] of Object.entries(made)) item[name] = all.find((i) => i.credentialId === credential.id);
    return { campaign, item, cred: made };
  };
  /**
   * Audit events and the item's row: what a call stored. Not `credential.secret_destroyed`: an earlier
   * test's revoked secrets are destroyed by a background job, which may land during a later call.
   */
  const stored = async () => {
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM audit_events WHERE action <> 'credential.secret_destroyed'`);
    const rows = await t.dataSource.query(`SELECT id, status, decision FROM review_items ORDER BY id`);
    const creds = await t.dataSource.query(`SELECT id, status, scopes FROM credentials ORDER BY id`);
    return { n, rows, creds };
  };

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    h = new ReviewHelpers(t, f);
    ownerA = await f.owner();
    ownerB = await f.owner();
    p = (await f.product()).name;
    agentA = await f.agent(ownerA.id);
    agentB = await f.agent(ownerB.id);
    tokenA = (await f.token('owner', ownerA.id)).token;
    tokenB = (await f.token('owner', ownerB.id)).token;
    const gateway = await f.gateway(['production', 'sandbox']);
    gatewayToken = (await f.token('gateway', undefined, gateway.id)).token;
  });
  afterAll(() => t.close());

  it('decides keep, reduce and revoke in one call, each carried out and audited as a single decision is', async () => {
    const { campaign, item, cred } = await campaignOver(['keep', 'reduce', 'revoke', 'twin']);
    const r = await bulk(
      campaign.id,
      {
        items: [
          { itemId: item.revoke.id, decision: 'revoke', comment: 'not needed' },
          { itemId: item.keep.id, decision: 'keep' },
          { itemId: item.reduce.id, decision: 'reduce', scopes: scopes('read'), comment: 'read only' },
        ],
      },
      tokenA,
    );
    expect(r.status).toBe(200);
    expect(r.body.decided).toBe(3);
    expect(r.body.items.map((i: any) => [i.id, i.status, i.decision, i.outcome])).toEqual([
      [item.revoke.id, 'decided', 'revoke', 'revoked'],
      [item.keep.id, 'decided', 'keep', 'kept'],
      [item.reduce.id, 'decided', 'reduce', 'reduced'],
    ]);
    expect((await h.credential(cred.revoke.id)).status).toBe('revoked');
    expect((await h.credential(cred.reduce.id)).scopes).toEqual(scopes('read'));
    expect((await h.credential(cred.keep.id)).scopes).toEqual(scopes('read', 'write'));

    // The twin is reduced alone, with the same input: the item's and the credential's audit trail look the same.
    const single = await h.decide(campaign.id, item.twin.id, { decision: 'reduce', scopes: scopes('read'), comment: 'read only' }, tokenA);
    expect(single.status).toBe(200);
    const trail = async (itemId: string, credentialId: string) => {
      const events = async (targetId: string) =>
        (await t.http.get(`/v1/audit-events?targetId=${targetId}&limit=500`, f.admin)).body.items.map((e: any) => ({
          action: e.action,
          actor: e.actor,
          data: JSON.parse(JSON.stringify(e.data).replaceAll(itemId, 'ITEM').replaceAll(credentialId, 'CREDENTIAL')),
        }));
      return { item: await events(itemId), credential: await events(credentialId) };
    };
    const bulkTrail = await trail(item.reduce.id, cred.reduce.id);
    expect(bulkTrail.item.map((e: any) => e.action)).toEqual(['review.decided']);
    expect(bulkTrail).toEqual(await trail(item.twin.id, cred.twin.id));
    expect(await h.auditActions(item.revoke.id)).toEqual(['review.decided']);
    expect(await h.auditActions(cred.revoke.id)).toContain('credential.revoked');
  });

  it('stores nothing when one item is invalid, and names it (items[i].field)', async () => {
    const { campaign, item } = await campaignOver(['a', 'b', 'c']);
    // Items are carried out in id order: the bad one goes last, so the others are carried out before it fails.
    const [first, second, last] = [item.a, item.b, item.c].sort((x, y) => (x.id < y.id ? -1 : 1));
    const before = await stored();
    const r = await bulk(campaign.id, {
      items: [
        { itemId: first.id, decision: 'revoke' },
        { itemId: last.id, decision: 'reduce', scopes: scopes('read', 'write') },
        { itemId: second.id, decision: 'reduce', scopes: scopes('read') },
      ],
    });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.body.errors.map((e: any) => e.field)).toEqual(['items[1].scopes']);
    expect(await stored()).toEqual(before);
  });

  it('refuses bad input with 400 naming the field, storing nothing', async () => {
    const { campaign, item } = await campaignOver(['x', 'y']);
    const before = await stored();
    const cases: Array<[unknown, string[]]> = [
      [{}, ['items']],
      [{ items: [{ itemId: item.x.id, decision: 'keep' }], acceptRecommendations: true }, ['items']],
      [{ items: [] }, ['items']],
      [{ acceptRecommendations: false }, ['acceptRecommendations']],
      [{ items: [{ itemId: item.x.id, decision: 'keep' }], ownerId: ownerA.id }, ['ownerId']],
      [{ acceptRecommendations: true, ownerId: 'not-a-uuid' }, ['ownerId']],
      [{ items: [{ itemId: item.x.id, decision: 'maybe' }] }, ['items[0].decision']],
      [{ items: [{ decision: 'keep' }] }, ['items[0].itemId']],
      [{ items: [{ itemId: item.x.id, decision: 'keep', extra: 1 }] }, ['items[0].extra']],
      [{ items: ['keep'] }, ['items']],
      [
        {
          items: [
            { itemId: item.x.id, decision: 'keep' },
            { itemId: item.y.id, decision: 'reduce' },
          ],
        },
        ['items[1].scopes'],
      ],
      [{ items: [{ itemId: item.x.id, decision: 'keep', scopes: scopes('read') }] }, ['items[0].scopes']],
      [
        {
          items: [
            { itemId: item.x.id, decision: 'keep' },
            { itemId: item.x.id, decision: 'revoke' },
          ],
        },
        ['items[1].itemId'],
      ],
      [
        {
          items: [
            { itemId: item.x.id, decision: 'keep' },
            { itemId: '00000000-0000-4000-8000-000000000000', decision: 'keep' },
          ],
        },
        ['items[1].itemId'],
      ],
      [{ items: Array.from({ length: 1001 }, () => ({ itemId: item.x.id, decision: 'keep' })) }, ['items']],
    ];
    for (const [body, fields] of cases) {
      const r = await bulk(campaign.id, body);
      expect({ body, status: r.status }).toEqual({ body, status: 400 });
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.body.errors.map((e: any) => e.field)).toEqual(expect.arrayContaining(fields));
    }
    expect((await bulk('00000000-0000-4000-8000-000000000000', { items: [{ itemId: item.x.id, decision: 'keep' }] })).status).toBe(404);
    expect(await stored()).toEqual(before);
  });

  it("keeps owners to their own items: another owner's item is a 403 and nothing is stored", async () => {
    const { campaign, item } = await campaignOver(['mine'], ['theirs']);
    const before = await stored();
    const r = await bulk(
      campaign.id,
      {
        items: [
          { itemId: item.mine.id, decision: 'revoke' },
          { itemId: item.theirs.id, decision: 'keep' },
        ],
      },
      tokenA,
    );
    expect(r.status).toBe(403);
    expect(r.body.errors.map((e: any) => e.field)).toEqual(['items[1].itemId']);
    expect((await bulk(campaign.id, { acceptRecommendations: true, ownerId: ownerA.id }, tokenB)).status).toBe(403);
    expect(await stored()).toEqual(before);
  });

  it('answers 409 for a decided item or a closed campaign, naming the item', async () => {
    const { campaign, item } = await campaignOver(['done', 'open']);
    expect((await h.decide(campaign.id, item.done.id, { decision: 'keep' })).status).toBe(200);
    const before = await stored();
    const r = await bulk(campaign.id, {
      items: [
        { itemId: item.open.id, decision: 'keep' },
        { itemId: item.done.id, decision: 'keep' },
      ],
    });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ errors: [{ field: 'items[1].itemId' }] });
    expect(await stored()).toEqual(before);
    expect((await t.http.post(`/v1/campaigns/${campaign.id}/close`, undefined, f.admin)).status).toBe(200);
    expect((await bulk(campaign.id, { items: [{ itemId: item.open.id, decision: 'keep' }] })).status).toBe(409);
  });

  it('records an item whose credential was revoked elsewhere as such, as a single decision would', async () => {
    const { campaign, item, cred } = await campaignOver(['gone', 'kept']);
    await h.revoke(cred.gone.id);
    const r = await bulk(campaign.id, {
      items: [
        { itemId: item.gone.id, decision: 'keep' },
        { itemId: item.kept.id, decision: 'keep' },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.items.map((i: any) => i.outcome)).toEqual(['revoked_elsewhere', 'kept']);
    expect(await h.auditActions(item.gone.id)).toEqual(['review.revoked_elsewhere']);
  });

  describe('accepting the recommendations', () => {
    let campaign: any;
    const made: Record<string, { credential: any; secret: string }> = {};
    let items: any[];
    const itemOf = (name: string) => items.find((i) => i.credentialId === made[name].credential.id);

    beforeAll(async () => {
      for (const name of ['unusedA', 'readerA', 'fullA']) made[name] = await issue(agentA.id);
      made.unusedB = await issue(agentB.id);
      // 100 days on: the readers call through the gateway; the unused stay silent.
      t.clock.advance(100 * DAY);
      const call = async (name: string, scope: string) =>
        expect((await t.http.post('/v1/verify', { key: made[name].secret, scope }, gatewayToken)).body.code).toBe('VALID');
      await call('readerA', `${p}:read`);
      await call('fullA', `${p}:read`);
      await call('fullA', `${p}:write`);
      await t.app.get(UsageRecorderService).flush();
      campaign = await h.open({ name: 'accept', ownerIds: [ownerA.id, ownerB.id] });
      items = await h.items(campaign.id);
      expect(itemOf('unusedA').recommendation.decision).toBe('revoke');
      expect(itemOf('readerA').recommendation).toMatchObject({ decision: 'reduce', scopes: scopes('read') });
      expect(itemOf('fullA').recommendation.decision).toBe('keep');
    });

    it("an owner accepts its own items' recommendations, and only its own", async () => {
      const r = await bulk(campaign.id, { acceptRecommendations: true }, tokenA);
      expect(r.status).toBe(200);
      const ofA = items.filter((i) => i.ownerId === ownerA.id);
      expect(r.body.decided).toBe(ofA.length);
      expect(r.body.items.every((i: any) => i.ownerId === ownerA.id && i.status === 'decided')).toBe(true);
      const decided = (name: string) => r.body.items.find((i: any) => i.id === itemOf(name).id);
      expect(decided('unusedA')).toMatchObject({ decision: 'revoke', outcome: 'revoked' });
      expect(decided('readerA')).toMatchObject({ decision: 'reduce', scopesAfter: scopes('read') });
      expect(decided('fullA')).toMatchObject({ decision: 'keep', outcome: 'kept' });
      expect((await h.credential(made.unusedA.credential.id)).status).toBe('revoked');
      expect((await h.credential(made.readerA.credential.id)).scopes).toEqual(scopes('read'));
      expect(await h.auditActions(itemOf('readerA').id)).toEqual(['review.decided']);
      // Owner B's item is untouched; a second call has nothing left to decide.
      expect((await h.itemOf(campaign.id, made.unusedB.credential.id)).status).toBe('pending');
      expect((await bulk(campaign.id, { acceptRecommendations: true }, tokenA)).body).toEqual({ decided: 0, items: [] });
    });

    it('an admin accepts them for a named owner', async () => {
      const r = await bulk(campaign.id, { acceptRecommendations: true, ownerId: ownerB.id });
      expect(r.status).toBe(200);
      expect(r.body.decided).toBe(items.filter((i) => i.ownerId === ownerB.id).length);
      expect(r.body.items.every((i: any) => i.ownerId === ownerB.id && i.status === 'decided')).toBe(true);
      expect(r.body.items.find((i: any) => i.credentialId === made.unusedB.credential.id)).toMatchObject({ decision: 'revoke' });
      expect((await h.credential(made.unusedB.credential.id)).status).toBe('revoked');
    });
  });
});
