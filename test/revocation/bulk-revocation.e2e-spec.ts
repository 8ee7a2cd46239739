import { Webhook } from 'standardwebhooks';

import { copyCredentials } from '../support/credential-copies';
import { Fixtures } from '../support/fixtures';
import { eventually, GatewayReceiver } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * Credentials in the mass revocation: enough for three of the revocation's
 * thousand-credential transactions and dozens of delivery batches per gateway.
 * The contract's 10,000 runs in `npm run test:soak`
 * (test/revocation/bulk-revocation.soak-spec.ts).
 */
const MASS = 2_500;

/**
 * Bulk revocation (`POST /v1/revocations`), the revocation list and the
 * per-gateway summary, on the real app with real gateway receivers: who may,
 * what a filter matches, what a dry run leaves alone, one revocation of
 * thousands of credentials, and counts that agree with what the gateways got.
 */
describe('bulk revocation', () => {
  let t: TestApp;
  let f: Fixtures;
  let product: any;
  let other: any;
  const gateways: Array<{ id: string; secret: string; receiver: GatewayReceiver; environments: string[] }> = [];

  beforeAll(async () => {
    t = await startTestApp({ env: { DELIVERY_RETRY_SCHEDULE: '100ms,200ms', DELIVERY_RETRY_WINDOW: '2s', DELIVERY_CONCURRENCY: '32' } });
    f = new Fixtures(t);
    product = await f.product();
    other = await f.product();
    for (const environments of [['production'], ['production', 'sandbox'], ['sandbox']]) {
      const receiver = await GatewayReceiver.start();
      const res = await t.http.post('/v1/gateways', { name: `gw-${gateways.length}`, url: receiver.url, environments }, t.adminToken);
      expect(res.status).toBe(201);
      gateways.push({ id: res.body.gateway.id, secret: res.body.signingSecret, receiver, environments });
    }
  });

  afterAll(async () => {
    await t.close();
    await Promise.all(gateways.map((g) => g.receiver.close()));
  });

  /** Rows that a change would write: none may appear for a refused or dry-run call (destructions of earlier revocations' secrets go on). */
  async function stored(): Promise<{ revocations: number; rows: number; events: number; audit: number; revoked: number }> {
    const [row] = await t.dataSource.query(
      `SELECT (SELECT count(*)::int FROM revocations) AS revocations, (SELECT count(*)::int FROM revocation_credentials) AS rows,
              (SELECT count(*)::int FROM outbox_events) AS events, (SELECT count(*)::int FROM audit_events WHERE action <> 'credential.secret_destroyed') AS audit,
              (SELECT count(*)::int FROM credentials WHERE status = 'revoked') AS revoked`,
    );
    return row;
  }

  const seed = (templateId: string, count: number) => copyCredentials(t.dataSource, templateId, count);

  /** Holds until the revocation is no longer propagating (or `timeoutMs`), and returns its view. */
  async function settled(revocationId: string, timeoutMs = 60_000): Promise<any> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const view = await t.http.get(`/v1/revocations/${revocationId}?waitSeconds=30`, t.adminToken);
      expect(view.status).toBe(200);
      if (view.body.status !== 'propagating' || performance.now() > deadline) return view.body;
    }
  }

  it('lets admins and responders revoke in bulk, auditors and owners not; list is for admin, responder and auditor', async () => {
    const { owner, agent } = await f.world();
    await f.credential(agent.id, [`${product.name}:read`]);
    const body = { reason: 'roles', filter: { agentIds: [agent.id] }, dryRun: true };
    const callers = {
      admin: f.admin,
      responder: (await f.token('responder')).token,
      auditor: (await f.token('auditor')).token,
      owner: (await f.token('owner', owner.id)).token,
    };
    const post: Record<string, number> = {};
    const list: Record<string, number> = {};
    for (const [name, token] of Object.entries({ ...callers, none: undefined })) {
      const p = await t.http.post('/v1/revocations', body, token);
      const l = await t.http.get('/v1/revocations', token);
      post[name] = p.status;
      list[name] = l.status;
      if (p.status >= 400) expect(p.headers.get('content-type')).toContain('application/problem+json');
      if (l.status >= 400) expect(l.headers.get('content-type')).toContain('application/problem+json');
    }
    expect(post).toEqual({ admin: 200, responder: 200, auditor: 403, owner: 403, none: 401 });
    expect(list).toEqual({ admin: 200, responder: 200, auditor: 200, owner: 403, none: 401 });
    // A real one too: the owner's token cannot, even for its own credentials.
    const real = { reason: 'roles', filter: { agentIds: [agent.id] } };
    expect((await t.http.post('/v1/revocations', real, callers.owner)).status).toBe(403);
    expect((await t.http.post('/v1/revocations', real, callers.auditor)).status).toBe(403);
    expect((await t.http.post('/v1/revocations', real, callers.responder)).status).toBe(202);
  });

  it('refuses bad input with a 400 naming the field, and stores nothing', async () => {
    const before = await stored();
    const cases: Array<[unknown, string]> = [
      [{ reason: 'x' }, 'filter'],
      [{ reason: 'x', filter: {} }, 'filter'],
      [{ reason: 'x', filter: null }, 'filter'],
      [{ reason: 'x', filter: 'all' }, 'filter'],
      [{ filter: { environment: 'production' } }, 'reason'],
      [{ reason: '   ', filter: { environment: 'production' } }, 'reason'],
      [{ reason: 'x', filter: { environment: 'staging' } }, 'filter.environment'],
      [{ reason: 'x', filter: { credentialIds: [] } }, 'filter.credentialIds'],
      [{ reason: 'x', filter: { credentialIds: ['not-a-uuid'] } }, 'filter.credentialIds'],
      [{ reason: 'x', filter: { agentIds: 'x' } }, 'filter.agentIds'],
      [{ reason: 'x', filter: { ownerId: 'nope' } }, 'filter.ownerId'],
      [{ reason: 'x', filter: { scopes: ['customers:*'] } }, 'filter.scopes'],
      [{ reason: 'x', filter: { products: ['Bad Name'] } }, 'filter.products'],
      [{ reason: 'x', filter: { createdBefore: 'yesterday' } }, 'filter.createdBefore'],
      [{ reason: 'x', filter: { secretStore: 'disk' } }, 'filter.secretStore'],
      [{ reason: 'x', filter: { everything: true } }, 'filter.everything'],
      [{ reason: 'x', filter: { environment: 'production' }, dryRun: 'yes' }, 'dryRun'],
      [{ reason: 'x', filter: { environment: 'production' }, extra: 1 }, 'extra'],
    ];
    for (const [body, field] of cases) {
      const res = await t.http.post('/v1/revocations', body, f.admin);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.errors.map((e: any) => e.field)).toContain(field);
    }
    for (const query of ['limit=0', 'limit=501', 'status=done', 'since=soon', 'cursor=abc', 'other=1']) {
      const res = await t.http.get(`/v1/revocations?${query}`, f.admin);
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
    }
    expect(await stored()).toEqual(before);
  });

  it('a dry run counts and samples the matches and stores nothing', async () => {
    const { agent } = await f.world();
    const issued = [];
    for (let i = 0; i < 3; i++) issued.push((await f.credential(agent.id, [`${product.name}:read`])).credential);
    await seed(issued[0].id, 25);
    const before = await stored();
    const res = await t.http.post('/v1/revocations', { reason: 'what if', filter: { agentIds: [agent.id] }, dryRun: true }, f.admin);
    expect(res.status).toBe(200);
    expect(res.body.count).toBe(28);
    expect(res.body.sample).toHaveLength(20);
    const ids = (await t.dataSource.query('SELECT id FROM credentials WHERE agent_id = $1 ORDER BY id LIMIT 20', [agent.id])).map(
      (r: any) => r.id,
    );
    expect(res.body.sample).toEqual(ids);
    expect(await stored()).toEqual(before);
    // No match is a count of zero in a dry run, and a 404 naming the filter for the real thing (nothing stored either).
    const none = { reason: 'none', filter: { agentIds: ['7a1f4a8e-8f5e-4c1e-9a51-3a4b5c6d7e8f'] } };
    expect((await t.http.post('/v1/revocations', { ...none, dryRun: true }, f.admin)).body).toEqual({ count: 0, sample: [] });
    const missing = await t.http.post('/v1/revocations', none, f.admin);
    expect(missing.status).toBe(404);
    expect(missing.body.errors).toEqual([{ field: 'filter', message: expect.any(String) }]);
    expect(await stored()).toEqual(before);
  });

  it('matches on every field given (scopes, products: any of), only active or pending credentials, as one revocation', async () => {
    const { owner, agent } = await f.world();
    const agent2 = await f.agent(owner.id);
    const responder = await f.token('responder');
    const mk = async (agentId: string, scopes: string[], overrides: Record<string, unknown> = {}) =>
      (await f.credential(agentId, scopes, overrides)).credential;
    const readProd = await mk(agent.id, [`${product.name}:read`]);
    t.clock.advance(1000);
    const writeProd = await mk(agent.id, [`${product.name}:write`]);
    const otherProd = await mk(agent2.id, [`${other.name}:read`]);
    const sandbox = await mk(agent2.id, [`${product.name}:read`], { environment: 'sandbox' });
    const pending = await mk(agent2.id, [`${product.name}:delete`]);
    expect(pending.status).toBe('pending_approval');
    const rejected = await mk(agent2.id, [`${product.name}:admin`]);
    expect((await t.http.post(`/v1/credentials/${rejected.id}/reject`, {}, (await f.token('admin')).token)).status).toBeLessThan(300);
    const alreadyRevoked = await mk(agent.id, [`${product.name}:read`]);
    expect((await t.http.post(`/v1/credentials/${alreadyRevoked.id}/revoke`, { reason: 'earlier' }, f.admin)).status).toBe(202);

    const dry = async (filter: Record<string, unknown>) =>
      (await t.http.post('/v1/revocations', { reason: 'x', filter, dryRun: true }, responder.token)).body.sample.sort();
    const sorted = (...cs: any[]) => cs.map((c) => c.id).sort();
    expect(await dry({ ownerId: owner.id })).toEqual(sorted(readProd, writeProd, otherProd, sandbox, pending));
    expect(await dry({ ownerId: owner.id, products: [other.name] })).toEqual(sorted(otherProd));
    expect(await dry({ ownerId: owner.id, scopes: [`${product.name}:write`, `${product.name}:delete`] })).toEqual(
      sorted(writeProd, pending),
    );
    expect(await dry({ ownerId: owner.id, environment: 'sandbox' })).toEqual(sorted(sandbox));
    expect(await dry({ credentialIds: [readProd.id, rejected.id, alreadyRevoked.id] })).toEqual(sorted(readProd));
    expect(await dry({ agentIds: [agent.id], secretStore: 'local' })).toEqual(sorted(readProd, writeProd));
    expect(await dry({ agentIds: [agent.id], secretStore: 'vault' })).toEqual([]);
    expect(await dry({ agentIds: [agent.id, agent2.id], createdBefore: writeProd.createdAt })).toEqual(sorted(readProd));

    const res = await t.http.post('/v1/revocations', { reason: 'token found in CI logs', filter: { ownerId: owner.id } }, responder.token);
    expect(res.status).toBe(202);
    const revokedIds = sorted(readProd, writeProd, otherProd, sandbox, pending);
    expect(res.body).toEqual({
      revocationId: expect.any(String),
      credentialIds: revokedIds,
      revokedAt: expect.any(String),
      reasonContainedSecret: false,
      count: 5,
    });
    for (const id of revokedIds) {
      const c = (await t.http.get(`/v1/credentials/${id}`, f.admin)).body;
      expect(c).toMatchObject({ status: 'revoked', revokedAt: res.body.revokedAt, revokedReason: 'token found in CI logs' });
    }
    expect((await t.http.get(`/v1/credentials/${rejected.id}`, f.admin)).body.status).toBe('rejected');

    // Each credential's audit event as the single path writes it, and one event naming the filter.
    const audit = await t.dataSource.query(
      `SELECT action, target_id, data, actor FROM audit_events WHERE data->>'revocationId' = $1 OR target_id = $1 ORDER BY action, target_id`,
      [res.body.revocationId],
    );
    expect(audit.filter((a: any) => a.action === 'credential.revoked').map((a: any) => a.target_id)).toEqual(revokedIds);
    const one = audit.find((a: any) => a.target_id === readProd.id);
    expect(one.data).toEqual({
      revocationId: res.body.revocationId,
      reason: 'token found in CI logs',
      agentId: agent.id,
      previousStatus: 'active',
    });
    expect(one.actor).toMatchObject({ tokenId: responder.id, role: 'responder' });
    expect(audit.find((a: any) => a.target_id === pending.id).data.previousStatus).toBe('pending_approval');
    expect(audit.find((a: any) => a.action === 'revocation.created')).toMatchObject({
      target_id: res.body.revocationId,
      data: { reason: 'token found in CI logs', filter: { ownerId: owner.id }, matched: 5 },
    });

    // The same signed credential.revoked a single revocation sends, to each gateway serving the credential's environment.
    const view = await settled(res.body.revocationId);
    expect(view).toMatchObject({ status: 'complete', credentialIds: revokedIds, ownerId: owner.id, agentId: null });
    for (const g of gateways) {
      const [event] = g.receiver.events('credential.revoked', readProd.id);
      if (!g.environments.includes('production')) {
        expect(event).toBeUndefined();
        continue;
      }
      expect(new Webhook(g.secret).verify(event.body, event.headers)).toEqual(event.json);
      expect(event.json.data).toMatchObject({
        credentialId: readProd.id,
        status: 'revoked',
        reason: 'token found in CI logs',
        revokedAt: res.body.revokedAt,
        revocationId: res.body.revocationId,
      });
    }
    // The secrets leave their stores through the same destruction as a single revocation.
    await eventually(
      async () =>
        (await t.http.get(`/v1/revocations/${res.body.revocationId}`, f.admin)).body.secrets.every((s: any) => s.status === 'destroyed'),
      15_000,
      'secrets destroyed',
    );
    const left = await t.dataSource.query(
      'SELECT count(*)::int AS n FROM local_secret_versions WHERE credential_id = ANY ($1::uuid[]) AND destroyed_at IS NULL',
      [revokedIds],
    );
    expect(left[0].n).toBe(0);

    // The summary view (what agc polls): the same counts per gateway, without the lists that grow with the revocation.
    const full = (await t.http.get(`/v1/revocations/${res.body.revocationId}`, f.admin)).body;
    const summary = await t.http.get(`/v1/revocations/${res.body.revocationId}?view=summary`, f.admin);
    expect(summary.status).toBe(200);
    expect(summary.body).toEqual({
      ...full,
      credentialIds: [],
      secrets: [],
      deliveries: full.deliveries.map((d: any) => ({ ...d, deliveryIds: [] })),
      credentialCount: revokedIds.length,
      secretCounts: { pending: 0, destroyed: revokedIds.length },
    });
    expect(full).toMatchObject({ credentialCount: revokedIds.length, secretCounts: { pending: 0, destroyed: revokedIds.length } });
    const badView = await t.http.get(`/v1/revocations/${res.body.revocationId}?view=everything`, f.admin);
    expect(badView.status).toBe(400);
    expect(JSON.stringify(badView.body)).toContain('view');

    // Nothing left to match: 404, and the earlier revocation is untouched.
    expect((await t.http.post('/v1/revocations', { reason: 'again', filter: { ownerId: owner.id } }, responder.token)).status).toBe(404);
  });

  it('redacts a secret pasted into the reason and says whether it was one of the revoked credentials’ own', async () => {
    const { agent } = await f.world();
    const issued = await f.credential(agent.id, [`${product.name}:read`]);
    const res = await t.http.post('/v1/revocations', { reason: `leaked: ${issued.secret}`, filter: { agentIds: [agent.id] } }, f.admin);
    expect(res.status).toBe(202);
    expect(res.body.reasonContainedSecret).toBe(true);
    expect(res.text).not.toContain(issued.secret);
    const [row] = await t.dataSource.query('SELECT reason FROM revocations WHERE id = $1', [res.body.revocationId]);
    expect(row.reason).not.toContain(issued.secret!);
    const audit = await t.dataSource.query(
      `SELECT data::text AS data FROM audit_events WHERE data->>'revocationId' = $1 OR target_id = $1`,
      [res.body.revocationId],
    );
    for (const a of audit) expect(a.data).not.toContain(issued.secret!);
  });

  it(`revokes ${MASS.toLocaleString('en')} credentials in one call (several of its thousand-credential transactions), and every gateway acknowledges each of them`, async () => {
    const { agent } = await f.world();
    const template = (await f.credential(agent.id, [`${product.name}:read`])).credential;
    await seed(template.id, MASS - 1);
    const started = performance.now();
    const res = await t.http.post('/v1/revocations', { reason: 'mass incident', filter: { agentIds: [agent.id] } }, f.admin);
    const callMs = performance.now() - started;
    expect(res.status).toBe(202);
    expect(res.body.count).toBe(MASS);
    expect(new Set(res.body.credentialIds).size).toBe(MASS);
    const [counts] = await t.dataSource.query(
      `SELECT (SELECT count(*)::int FROM credentials WHERE agent_id = $1 AND status = 'revoked') AS revoked,
              (SELECT count(*)::int FROM revocation_credentials WHERE revocation_id = $2) AS rows,
              (SELECT count(*)::int FROM audit_events WHERE action = 'credential.revoked' AND data->>'revocationId' = $2::text) AS audit,
              (SELECT count(*)::int FROM outbox_events WHERE type = 'credential.revoked' AND payload::jsonb->'data'->>'revocationId' = $2::text) AS events`,
      [agent.id, res.body.revocationId],
    );
    expect(counts).toEqual({ revoked: MASS, rows: MASS, audit: MASS, events: MASS });

    const view = await settled(res.body.revocationId, 240_000);
    const doneMs = performance.now() - started;
    process.stdout.write(
      `bulk revocation of ${MASS}: call ${(callMs / 1000).toFixed(2)} s, every acknowledgement ${(doneMs / 1000).toFixed(2)} s\n`,
    );
    expect(view.status).toBe('complete');
    const production = gateways.filter((g) => g.environments.includes('production'));
    expect(view.deliveries.map((d: any) => d.gatewayId).sort()).toEqual(production.map((g) => g.id).sort());
    for (const d of view.deliveries) {
      expect(d).toMatchObject({ status: 'delivered', total: MASS, delivered: MASS, pending: 0, failed: 0 });
      expect(d.deliveryIds).toHaveLength(MASS);
    }
    for (const g of production) {
      const got = new Set(
        g.receiver
          .events('credential.revoked')
          .filter((e) => e.json.data.revocationId === res.body.revocationId)
          .map((e) => e.json.data.credentialId),
      );
      expect(got.size).toBe(MASS);
    }
  }, 300_000);

  it('refuses a filter matching more than 100,000 with a 422 naming the count, and revokes nothing', async () => {
    const { owner, agent } = await f.world();
    const template = (await f.credential(agent.id, [`${product.name}:read`])).credential;
    await seed(template.id, 100_000);
    const before = await stored();
    const res = await t.http.post('/v1/revocations', { reason: 'too many', filter: { ownerId: owner.id } }, f.admin);
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.detail).toContain('100001');
    expect(res.body.errors).toEqual([{ field: 'filter', message: expect.stringContaining('100001') }]);
    expect(await stored()).toEqual(before);
    expect(
      (await t.http.post('/v1/revocations', { reason: 'count', filter: { ownerId: owner.id }, dryRun: true }, f.admin)).body.count,
    ).toBe(100_001);
    // Out of every later test's way.
    await t.dataSource.query(`UPDATE credentials SET status = 'rejected' WHERE owner_id = $1`, [owner.id]);
  }, 120_000);

  it('summarises deliveries per gateway: a failing gateway shows failed, the others delivered, and the counts agree with the receivers', async () => {
    const failing = await GatewayReceiver.start(() => ({ status: 500 }));
    const created = await t.http.post('/v1/gateways', { name: 'gw-failing', url: failing.url, environments: ['production'] }, f.admin);
    expect(created.status).toBe(201);
    try {
      const { agent } = await f.world();
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await f.credential(agent.id, [`${product.name}:read`])).credential.id);
      await f.credential(agent.id, [`${product.name}:read`], { environment: 'sandbox' });
      const res = await t.http.post('/v1/revocations', { reason: 'partial', filter: { agentIds: [agent.id] } }, f.admin);
      expect(res.status).toBe(202);
      const view = await settled(res.body.revocationId, 30_000);
      expect(view.status).toBe('failed');
      const byGateway = Object.fromEntries(view.deliveries.map((d: any) => [d.gatewayId, d]));
      expect(byGateway[created.body.gateway.id]).toMatchObject({
        status: 'failed',
        total: 3,
        delivered: 0,
        pending: 0,
        failed: 3,
        lastStatusCode: 500,
      });
      expect(byGateway[created.body.gateway.id].attempts).toBeGreaterThanOrEqual(3);
      expect(byGateway[gateways[0].id]).toMatchObject({ status: 'delivered', total: 3, delivered: 3, pending: 0, failed: 0 });
      expect(byGateway[gateways[1].id]).toMatchObject({ status: 'delivered', total: 4, delivered: 4, pending: 0, failed: 0 });
      expect(byGateway[gateways[2].id]).toMatchObject({ status: 'delivered', total: 1, delivered: 1, pending: 0, failed: 0 });
      for (const g of gateways) {
        const acked = g.receiver.events('credential.revoked').filter((e) => e.json.data.revocationId === res.body.revocationId).length;
        expect(acked).toBe(byGateway[g.id].delivered);
      }
      // The list filters by that status.
      const failed = await t.http.get('/v1/revocations?status=failed', f.admin);
      expect(failed.body.items.map((r: any) => r.id)).toContain(res.body.revocationId);
      expect(failed.body.items.every((r: any) => r.status === 'failed')).toBe(true);
      const complete = await t.http.get('/v1/revocations?status=complete&limit=500', f.admin);
      expect(complete.body.items.map((r: any) => r.id)).not.toContain(res.body.revocationId);
    } finally {
      await failing.close();
    }
  }, 60_000);

  it('lists revocations newest first with cursor pagination and since', async () => {
    const all = await t.http.get('/v1/revocations?limit=500', (await f.token('auditor')).token);
    expect(all.status).toBe(200);
    expect(all.body.nextCursor).toBeNull();
    const ids = all.body.items.map((r: any) => r.id);
    expect(ids.length).toBeGreaterThanOrEqual(5);
    const times = all.body.items.map((r: any) => r.revokedAt);
    expect([...times].sort().reverse()).toEqual(times);
    expect(all.body.items[0]).toEqual({
      id: expect.any(String),
      revocationId: all.body.items[0].id,
      agentId: null,
      ownerId: expect.any(String),
      reason: expect.any(String),
      actor: expect.any(Object),
      revokedAt: expect.any(String),
      credentialCount: expect.any(Number),
      status: expect.stringMatching(/^(propagating|complete|failed)$/),
    });
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await t.http.get(`/v1/revocations?limit=2${cursor ? `&cursor=${cursor}` : ''}`, f.admin);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      paged.push(...page.body.items.map((r: any) => r.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(paged).toEqual(ids);
    const since = all.body.items[2].revokedAt;
    const recent = await t.http.get(`/v1/revocations?since=${encodeURIComponent(since)}&limit=500`, f.admin);
    expect(recent.body.items.map((r: any) => r.id)).toEqual(ids.filter((_: string, i: number) => times[i] >= since));
  });
});
