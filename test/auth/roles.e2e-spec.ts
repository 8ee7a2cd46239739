import { UsageRecorderService } from '../../src/enforcement/usage-recorder.service';
import { credentialBody, Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';

type Caller = 'admin' | 'ownerA' | 'ownerB' | 'responder' | 'auditor' | 'gateway' | 'none';
const CALLERS: Caller[] = ['admin', 'ownerA', 'ownerB', 'responder', 'auditor', 'gateway', 'none'];

interface RouteCase {
  name: string;
  /** Builds a fresh request (fresh resources) for each caller, so calls never interfere. */
  request: (caller: Caller) => Promise<{ method: string; path: string; body?: unknown }>;
  expect: Partial<Record<Caller, number>>;
  /** Status for callers not listed in `expect` (except `none`, always 401, and `gateway`, 403 unless listed). */
  otherwise: number;
}

/**
 * Every route against every role: the expected status is written down for
 * each, so a route that forgets to declare its roles (or declares too many)
 * fails here. Owner A owns the resources; owner B is another owner's token.
 */
describe('authorization: route × role', () => {
  let t: TestApp;
  let f: Fixtures;
  let tokens: Record<Exclude<Caller, 'none'>, { id: string; token: string }>;
  let ownerA: any;
  let ownerB: any;
  let product: any;
  let agentA: any;
  /** The gateway the `gateway` token is bound to. */
  let tokenGatewayId: string;

  const pendingCredentialOfA = async () => (await f.credential(agentA.id, [`${product.name}:delete`], {}, tokens.ownerA.token)).credential;
  const activeCredentialOfA = async () => (await f.credential(agentA.id, [`${product.name}:read`], {}, tokens.ownerA.token)).credential;
  /** A rotation (started by an admin) of a fresh credential of owner A. */
  const rotationOfA = async (): Promise<{ rotationId: string }> => {
    const started = await t.http.post(`/v1/credentials/${(await activeCredentialOfA()).id}/rotate`, {}, tokens.admin.token);
    expect(started.status).toBe(202);
    return started.body;
  };
  /** A campaign over owner A's credentials, and the item of a credential issued just before it opened. */
  const campaignOfA = async () => {
    const credential = await activeCredentialOfA();
    const opened = await t.http.post('/v1/campaigns', { name: 'roles', ownerIds: [ownerA.id] }, tokens.admin.token);
    expect(opened.status).toBe(201);
    const items = await t.http.get(`/v1/campaigns/${opened.body.id}/items?limit=500`, tokens.admin.token);
    return { campaign: opened.body, item: items.body.items.find((i: any) => i.credentialId === credential.id) };
  };

  /** An open `ip_not_allowed` alert of a fresh credential of owner A (a call from outside its allowlist, detected in the recorder's flush). */
  const alertOfA = async (): Promise<{ id: string }> => {
    const made = await f.credential(agentA.id, [`${product.name}:read`], { ipAllowlist: ['203.0.113.0/24'] }, tokens.ownerA.token);
    const verified = await t.http.post('/v1/verify', { key: made.secret, ip: '192.0.2.1' }, tokens.admin.token);
    expect(verified.body.code).toBe('IP_DENIED');
    await t.app.get(UsageRecorderService).flush();
    const listed = await t.http.get(`/v1/alerts?credentialId=${made.credential.id}`, tokens.admin.token);
    expect(listed.body.items).toHaveLength(1);
    return listed.body.items[0];
  };

  const cases: RouteCase[] = [
    {
      name: 'POST /v1/tokens',
      request: async () => ({ method: 'POST', path: '/v1/tokens', body: { name: 'x', role: 'auditor' } }),
      expect: { admin: 201 },
      otherwise: 403,
    },
    { name: 'GET /v1/tokens', request: async () => ({ method: 'GET', path: '/v1/tokens' }), expect: { admin: 200 }, otherwise: 403 },
    { name: 'GET /v1/tokens/self', request: async () => ({ method: 'GET', path: '/v1/tokens/self' }), expect: {}, otherwise: 200 },
    {
      name: 'DELETE /v1/tokens/:id',
      request: async () => ({ method: 'DELETE', path: `/v1/tokens/${(await f.token('auditor')).id}` }),
      expect: { admin: 204 },
      otherwise: 403,
    },
    {
      name: 'POST /v1/owners',
      request: async (c) => ({
        method: 'POST',
        path: '/v1/owners',
        body: { name: 'o', email: `${c}-${Math.random()}@example.com`, kind: 'person' },
      }),
      expect: { admin: 201 },
      otherwise: 403,
    },
    { name: 'GET /v1/owners', request: async () => ({ method: 'GET', path: '/v1/owners' }), expect: {}, otherwise: 200 },
    {
      name: 'GET /v1/owners/:id',
      request: async () => ({ method: 'GET', path: `/v1/owners/${ownerA.id}` }),
      expect: { ownerB: 403 },
      otherwise: 200,
    },
    {
      name: 'PATCH /v1/owners/:id',
      request: async () => ({ method: 'PATCH', path: `/v1/owners/${ownerA.id}`, body: { name: 'Renamed' } }),
      expect: { admin: 200 },
      otherwise: 403,
    },
    {
      name: 'POST /v1/products',
      request: async (c) => ({
        method: 'POST',
        path: '/v1/products',
        body: { name: `p-${c.toLowerCase()}-${Date.now() % 100000}`, operations: ['read'] },
      }),
      expect: { admin: 201 },
      otherwise: 403,
    },
    { name: 'GET /v1/products', request: async () => ({ method: 'GET', path: '/v1/products' }), expect: {}, otherwise: 200 },
    {
      name: 'GET /v1/products/:id',
      request: async () => ({ method: 'GET', path: `/v1/products/${product.id}` }),
      expect: {},
      otherwise: 200,
    },
    {
      name: 'POST /v1/agents',
      request: async (c) => ({ method: 'POST', path: '/v1/agents', body: { name: `agent-${c}-${Math.random()}`, ownerId: ownerA.id } }),
      expect: { admin: 201, ownerA: 201 },
      otherwise: 403,
    },
    { name: 'GET /v1/agents', request: async () => ({ method: 'GET', path: '/v1/agents' }), expect: {}, otherwise: 200 },
    {
      name: 'GET /v1/agents/:id',
      request: async () => ({ method: 'GET', path: `/v1/agents/${agentA.id}` }),
      expect: { ownerB: 403 },
      otherwise: 200,
    },
    {
      name: 'PATCH /v1/agents/:id',
      request: async () => ({ method: 'PATCH', path: `/v1/agents/${agentA.id}`, body: { description: 'changed' } }),
      expect: { admin: 200, ownerA: 200 },
      otherwise: 403,
    },
    {
      name: 'POST /v1/credentials',
      request: async () => ({
        method: 'POST',
        path: '/v1/credentials',
        body: {
          agentId: agentA.id,
          type: 'api_key',
          environment: 'sandbox',
          scopes: [`${product.name}:read`],
          rateLimit: { requests: 1, perSeconds: 1 },
        },
      }),
      expect: { admin: 201, ownerA: 201 },
      otherwise: 403,
    },
    { name: 'GET /v1/credentials', request: async () => ({ method: 'GET', path: '/v1/credentials' }), expect: {}, otherwise: 200 },
    {
      name: 'GET /v1/credentials?ownerId=A',
      request: async () => ({ method: 'GET', path: `/v1/credentials?ownerId=${ownerA.id}` }),
      expect: { ownerB: 403 },
      otherwise: 200,
    },
    {
      name: 'GET /v1/credentials/:id',
      request: async () => ({ method: 'GET', path: `/v1/credentials/${(await activeCredentialOfA()).id}` }),
      expect: { ownerB: 403 },
      otherwise: 200,
    },
    {
      name: 'PATCH /v1/credentials/:id',
      request: async () => ({
        method: 'PATCH',
        path: `/v1/credentials/${(await activeCredentialOfA()).id}`,
        body: { gracePeriodHours: 3 },
      }),
      expect: { admin: 200, ownerA: 200 },
      otherwise: 403,
    },
    {
      name: 'POST /v1/credentials/:id/approve',
      request: async () => ({ method: 'POST', path: `/v1/credentials/${(await pendingCredentialOfA()).id}/approve` }),
      expect: { admin: 200 },
      otherwise: 403,
    },
    {
      name: 'POST /v1/credentials/:id/reject',
      request: async () => ({ method: 'POST', path: `/v1/credentials/${(await pendingCredentialOfA()).id}/reject` }),
      expect: { admin: 200 },
      otherwise: 403,
    },
    {
      // Only the requester (owner A's token here) may claim; owner B is another owner.
      name: 'POST /v1/credentials/:id/claim',
      request: async () => {
        const pending = await pendingCredentialOfA();
        const approved = await t.http.post(`/v1/credentials/${pending.id}/approve`, undefined, tokens.admin.token);
        expect(approved.status).toBe(200);
        return { method: 'POST', path: `/v1/credentials/${pending.id}/claim` };
      },
      expect: { ownerA: 200 },
      otherwise: 403,
    },
    // Rotation: a fresh credential of owner A per caller, so one caller's running rotation never answers another's 409.
    {
      name: 'POST /v1/credentials/:id/rotate',
      request: async () => ({
        method: 'POST',
        path: `/v1/credentials/${(await activeCredentialOfA()).id}/rotate`,
        body: { reason: 'roles' },
      }),
      expect: { admin: 202, responder: 202, ownerA: 202 },
      otherwise: 403,
    },
    {
      name: 'GET /v1/credentials/:id/rotations',
      request: async () => ({ method: 'GET', path: `/v1/credentials/${(await activeCredentialOfA()).id}/rotations` }),
      expect: { ownerB: 403 },
      otherwise: 200,
    },
    {
      name: 'GET /v1/rotations',
      request: async () => ({ method: 'GET', path: '/v1/rotations?status=failed' }),
      expect: { admin: 200, responder: 200, auditor: 200 },
      otherwise: 403,
    },
    {
      // A dry run: the callers allowed through change nothing (test/revocation/bulk-revocation.e2e-spec.ts revokes for real).
      name: 'POST /v1/revocations',
      request: async () => ({
        method: 'POST',
        path: '/v1/revocations',
        body: { reason: 'roles', filter: { agentIds: [agentA.id] }, dryRun: true },
      }),
      expect: { admin: 200, responder: 200 },
      otherwise: 403,
    },
    {
      name: 'GET /v1/revocations',
      request: async () => ({ method: 'GET', path: '/v1/revocations' }),
      expect: { admin: 200, responder: 200, auditor: 200 },
      otherwise: 403,
    },
    {
      name: 'GET /v1/rotations/:id',
      request: async () => ({ method: 'GET', path: `/v1/rotations/${(await rotationOfA()).rotationId}` }),
      expect: { ownerB: 403 },
      otherwise: 200,
    },
    {
      // Only a failed rotation can be retried: the callers allowed through get the 409 for a running or completed one.
      name: 'POST /v1/rotations/:id/retry',
      request: async () => ({ method: 'POST', path: `/v1/rotations/${(await rotationOfA()).rotationId}/retry` }),
      expect: { admin: 409, responder: 409 },
      otherwise: 403,
    },
    {
      name: 'GET /v1/audit-events',
      request: async () => ({ method: 'GET', path: '/v1/audit-events' }),
      expect: { admin: 200, auditor: 200 },
      otherwise: 403,
    },
    {
      name: 'GET /v1/audit-events/verify',
      request: async () => ({ method: 'GET', path: '/v1/audit-events/verify' }),
      expect: { admin: 200, auditor: 200 },
      otherwise: 403,
    },
    // Review campaigns: each request opens a campaign over owner A's credentials, so calls never interfere.
    {
      name: 'POST /v1/campaigns',
      request: async () => ({ method: 'POST', path: '/v1/campaigns', body: { name: 'roles', ownerIds: [ownerA.id] } }),
      expect: { admin: 201 },
      otherwise: 403,
    },
    { name: 'GET /v1/campaigns', request: async () => ({ method: 'GET', path: '/v1/campaigns' }), expect: {}, otherwise: 200 },
    {
      name: 'GET /v1/campaigns/:id',
      request: async () => ({ method: 'GET', path: `/v1/campaigns/${(await campaignOfA()).campaign.id}` }),
      expect: {},
      otherwise: 200,
    },
    {
      name: 'GET /v1/campaigns/:id/items?ownerId=A',
      request: async () => ({ method: 'GET', path: `/v1/campaigns/${(await campaignOfA()).campaign.id}/items?ownerId=${ownerA.id}` }),
      expect: { ownerB: 403 },
      otherwise: 200,
    },
    {
      name: 'POST /v1/campaigns/:id/items/:itemId/decision',
      request: async () => {
        const { campaign, item } = await campaignOfA();
        return { method: 'POST', path: `/v1/campaigns/${campaign.id}/items/${item.id}/decision`, body: { decision: 'keep' } };
      },
      expect: { admin: 200, ownerA: 200 },
      otherwise: 403,
    },
    {
      // Bulk decisions follow the single route's rules: owner B may not decide owner A's items.
      name: 'POST /v1/campaigns/:id/decisions',
      request: async () => {
        const { campaign, item } = await campaignOfA();
        return { method: 'POST', path: `/v1/campaigns/${campaign.id}/decisions`, body: { items: [{ itemId: item.id, decision: 'keep' }] } };
      },
      expect: { admin: 200, ownerA: 200 },
      otherwise: 403,
    },
    {
      // Accepting recommendations for owner A: owner B may not name another owner.
      name: 'POST /v1/campaigns/:id/decisions (acceptRecommendations, ownerId A)',
      request: async () => {
        const { campaign } = await campaignOfA();
        return {
          method: 'POST',
          path: `/v1/campaigns/${campaign.id}/decisions`,
          body: { acceptRecommendations: true, ownerId: ownerA.id },
        };
      },
      expect: { admin: 200, ownerA: 200 },
      otherwise: 403,
    },
    {
      // Owner B may sign off, but has no items in a campaign of owner A's credentials.
      name: 'POST /v1/campaigns/:id/signoff',
      request: async () => {
        const { campaign } = await campaignOfA();
        expect((await t.http.post(`/v1/campaigns/${campaign.id}/close`, undefined, tokens.admin.token)).status).toBe(200);
        return { method: 'POST', path: `/v1/campaigns/${campaign.id}/signoff`, body: {} };
      },
      expect: { ownerA: 201, ownerB: 409 },
      otherwise: 403,
    },
    {
      name: 'POST /v1/campaigns/:id/close',
      request: async () => ({ method: 'POST', path: `/v1/campaigns/${(await campaignOfA()).campaign.id}/close` }),
      expect: { admin: 200 },
      otherwise: 403,
    },
    {
      name: 'GET /v1/campaigns/:id/report',
      request: async () => ({ method: 'GET', path: `/v1/campaigns/${(await campaignOfA()).campaign.id}/report?format=csv` }),
      expect: { admin: 200, auditor: 200 },
      otherwise: 403,
    },
    {
      name: 'POST /v1/campaign-schedules',
      request: async () => ({ method: 'POST', path: '/v1/campaign-schedules', body: { name: 'roles', startsAt: '2100-01-01T00:00:00Z' } }),
      expect: { admin: 201 },
      otherwise: 403,
    },
    {
      name: 'GET /v1/campaign-schedules',
      request: async () => ({ method: 'GET', path: '/v1/campaign-schedules' }),
      expect: { admin: 200, auditor: 200 },
      otherwise: 403,
    },
    {
      name: 'POST /v1/leaks',
      request: async () => ({ method: 'POST', path: '/v1/leaks', body: { secretSha256: '0'.repeat(64), action: 'none' } }),
      expect: { admin: 200, responder: 200 },
      otherwise: 403,
    },
    {
      name: 'GET /v1/revocable_token_types',
      request: async () => ({ method: 'GET', path: '/v1/revocable_token_types' }),
      expect: { admin: 200, responder: 200 },
      otherwise: 403,
    },
    {
      name: 'POST /v1/revoke_tokens',
      request: async () => ({
        method: 'POST',
        path: '/v1/revoke_tokens',
        body: [{ type: 'agk_test', token: `agk_test_${'x'.repeat(49)}` }],
      }),
      expect: { admin: 204, responder: 204 },
      otherwise: 403,
    },
    {
      name: 'POST /v1/verify',
      request: async () => ({ method: 'POST', path: '/v1/verify', body: { key: (await activeCredentialOfA()).id } }),
      expect: { admin: 200, gateway: 200 },
      otherwise: 403,
    },
    {
      name: 'GET /v1/gateways/:id/credentials',
      request: async () => ({ method: 'GET', path: `/v1/gateways/${tokenGatewayId}/credentials` }),
      expect: { admin: 200, gateway: 200 },
      otherwise: 403,
    },
    {
      name: 'GET /v1/gateways/:id/events',
      request: async () => ({ method: 'GET', path: `/v1/gateways/${tokenGatewayId}/events?after=0` }),
      expect: { admin: 200, gateway: 200 },
      otherwise: 403,
    },
    {
      name: 'GET /v1/gateways/:id/credentials of another gateway',
      request: async () => ({ method: 'GET', path: `/v1/gateways/${(await f.gateway()).id}/credentials` }),
      expect: { admin: 200 },
      otherwise: 403,
    },
    {
      name: 'GET /v1/reviews/mine',
      request: async () => ({ method: 'GET', path: '/v1/reviews/mine' }),
      expect: { ownerA: 200, ownerB: 200 },
      otherwise: 403,
    },
    {
      name: 'GET /v1/alerts',
      request: async () => ({ method: 'GET', path: '/v1/alerts' }),
      expect: {},
      otherwise: 200,
    },
    {
      name: 'GET /v1/alerts/:id',
      request: async () => ({ method: 'GET', path: `/v1/alerts/${(await alertOfA()).id}` }),
      expect: { ownerB: 404 },
      otherwise: 200,
    },
    {
      name: 'POST /v1/alerts/:id/acknowledge',
      request: async () => ({ method: 'POST', path: `/v1/alerts/${(await alertOfA()).id}/acknowledge` }),
      expect: { admin: 200, responder: 200 },
      otherwise: 403,
    },
    {
      name: 'POST /v1/alerts/:id/resolve',
      request: async () => ({ method: 'POST', path: `/v1/alerts/${(await alertOfA()).id}/resolve`, body: { note: 'checked' } }),
      expect: { admin: 200, responder: 200 },
      otherwise: 403,
    },
    {
      name: 'GET /v1/alert-policies',
      request: async () => ({ method: 'GET', path: '/v1/alert-policies' }),
      expect: { admin: 200, responder: 200, auditor: 200 },
      otherwise: 403,
    },
    {
      name: 'PUT /v1/alert-policies/:type',
      request: async () => ({ method: 'PUT', path: '/v1/alert-policies/new_network', body: { action: 'none' } }),
      expect: { admin: 200 },
      otherwise: 403,
    },
  ];

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    ownerA = await f.owner();
    ownerB = await f.owner();
    product = await f.product();
    agentA = await f.agent(ownerA.id);
    tokens = {
      admin: await f.token('admin'),
      ownerA: await f.token('owner', ownerA.id),
      ownerB: await f.token('owner', ownerB.id),
      responder: await f.token('responder'),
      auditor: await f.token('auditor'),
      gateway: await f.token('gateway', undefined, (tokenGatewayId = (await f.gateway()).id)),
    };
  });
  afterAll(() => t.close());

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, route) => {
    const got: Record<string, number> = {};
    const want: Record<string, number> = {};
    for (const caller of CALLERS) {
      const request = await route.request(caller);
      const token = caller === 'none' ? undefined : tokens[caller].token;
      const r = await t.http.request(request.method, request.path, request.body, { token });
      got[caller] = r.status;
      want[caller] = caller === 'none' ? 401 : (route.expect[caller] ?? (caller === 'gateway' ? 403 : route.otherwise));
      if (r.status >= 400) expect(r.headers.get('content-type')).toContain('application/problem+json');
    }
    expect(got).toEqual(want);
  });

  it('a gateway token is bound to one existing gateway, and only gateway tokens are', async () => {
    const gateway = await f.gateway();
    const made = await t.http.post('/v1/tokens', { name: 'edge', role: 'gateway', gatewayId: gateway.id }, f.admin);
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ role: 'gateway', gatewayId: gateway.id, ownerId: null });
    const refusals: Array<[Record<string, unknown>, string]> = [
      [{ name: 'g', role: 'gateway' }, 'gatewayId'],
      [{ name: 'g', role: 'gateway', gatewayId: '00000000-0000-4000-8000-000000000000' }, 'gatewayId'],
      [{ name: 'g', role: 'auditor', gatewayId: gateway.id }, 'gatewayId'],
      [{ name: 'g', role: 'gateway', gatewayId: gateway.id, ownerId: ownerA.id }, 'ownerId'],
      [{ name: 'g', role: 'gateway', gatewayId: 'not-a-uuid' }, 'gatewayId'],
    ];
    for (const [body, field] of refusals) {
      const r = await t.http.post('/v1/tokens', body, f.admin);
      expect(r.status).toBe(400);
      expect(r.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    const listed = await t.http.get('/v1/tokens?limit=500', f.admin);
    expect(listed.body.items.find((x: any) => x.id === made.body.id).gatewayId).toBe(gateway.id);
  });

  it('operations endpoints need no token', async () => {
    for (const path of [
      '/health',
      '/health/ready',
      '/metrics',
      '/docs-json',
      '/.well-known/oauth-authorization-server',
      '/.well-known/jwks.json',
    ]) {
      expect((await t.http.get(path)).status).toBe(200);
    }
  });

  it('an unknown or malformed token is 401, and a deleted token stops working at once', async () => {
    expect((await t.http.get('/v1/owners', 'agt_not-a-real-token')).status).toBe(401);
    expect((await t.http.request('GET', '/v1/owners', undefined, { headers: { authorization: 'Basic abc' } })).status).toBe(401);
    const auditor = await f.token('auditor');
    expect((await t.http.get('/v1/owners', auditor.token)).status).toBe(200);
    expect((await t.http.delete(`/v1/tokens/${auditor.id}`, f.admin)).status).toBe(204);
    expect((await t.http.get('/v1/owners', auditor.token)).status).toBe(401);
    const listed = await t.http.get('/v1/tokens?limit=500', f.admin);
    const row = listed.body.items.find((x: any) => x.id === auditor.id);
    expect(row.revokedAt).not.toBeNull();
    expect(listed.text).not.toContain(auditor.token);
  });

  describe('owners are isolated from each other', () => {
    it('lists show an owner only its own agents and credentials', async () => {
      await activeCredentialOfA();
      const agentsB = await t.http.get('/v1/agents?limit=500', tokens.ownerB.token);
      expect(agentsB.body.items.every((a: any) => a.ownerId === ownerB.id)).toBe(true);
      const credsB = await t.http.get('/v1/credentials?limit=500', tokens.ownerB.token);
      expect(credsB.status).toBe(200);
      expect(credsB.body.items).toEqual([]);
      const credsA = await t.http.get('/v1/credentials?limit=500', tokens.ownerA.token);
      expect(credsA.body.items.length).toBeGreaterThan(0);
      expect(credsA.body.items.every((c: any) => c.ownerId === ownerA.id)).toBe(true);
      const ownersB = await t.http.get('/v1/owners', tokens.ownerB.token);
      expect(ownersB.body.items.map((o: any) => o.id)).toEqual([ownerB.id]);
    });

    it("owner B cannot create agents or credentials under owner A's name", async () => {
      const agent = await t.http.post('/v1/agents', { name: 'intruder', ownerId: ownerA.id }, tokens.ownerB.token);
      expect(agent.status).toBe(403);
      const agentB = await f.agent(ownerB.id, tokens.ownerB.token);
      expect(agentB.ownerId).toBe(ownerB.id);
      const cred = await t.http.post(
        '/v1/credentials',
        credentialBody(agentA.id, [`${product.name}:read`], { environment: 'sandbox', rateLimit: { requests: 1, perSeconds: 1 } }),
        tokens.ownerB.token,
      );
      expect(cred.status).toBe(403);
    });
  });
});
