import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * The header semantics the README's nginx, Envoy ext_authz and Traefik
 * ForwardAuth snippets rely on, by direct HTTP calls to /v1/authz the way each
 * proxy makes them: which request headers are read, which response headers
 * carry the answer, and which statuses come back.
 */
describe('forward-auth headers for nginx, Envoy and Traefik', () => {
  jest.setTimeout(120_000);
  let t: TestApp;
  let f: Fixtures;
  let agent: any;
  let owner: any;
  let gatewayToken: string;

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    owner = await f.owner();
    agent = await f.agent(owner.id);
    await f.product('payments', ['read', 'write']);
    gatewayToken = (await f.token('gateway', undefined, (await f.gateway(['production'])).id)).token;
  });
  afterAll(() => t.close());

  async function issue(overrides: Record<string, unknown> = {}): Promise<{ credential: any; secret: string }> {
    const made = await f.credential(agent.id, ['payments:read'], overrides);
    return { credential: made.credential, secret: made.secret! };
  }

  const authz = (headers: Record<string, string>, method = 'GET', path = '/v1/authz') =>
    t.http.request(method, path, undefined, { headers: { 'x-gateway-token': gatewayToken, ...headers } });

  it('allowed: 200 with the headers a proxy copies upstream (Traefik authResponseHeaders, Envoy allowed_upstream_headers)', async () => {
    const { credential, secret } = await issue();
    const r = await authz({ authorization: `Bearer ${secret}`, 'x-required-scope': 'payments:read' });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-agent-id')).toBe(agent.id);
    expect(r.headers.get('x-credential-id')).toBe(credential.id);
    expect(r.headers.get('x-client-id')).toBe(credential.clientId);
    expect(r.headers.get('x-owner-id')).toBe(owner.id);
    expect(r.headers.get('x-scopes')).toContain('payments:read');
    expect(r.headers.get('x-ratelimit-limit')).toBe('100');
    expect(Number(r.headers.get('x-ratelimit-remaining'))).toBeLessThan(100);
    expect(r.headers.get('x-deny-reason')).toBeNull();
  });

  it('reads the key from Authorization: Bearer or X-Api-Key, with any method (Envoy keeps the method, Traefik sends GET)', async () => {
    const { secret } = await issue();
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
      expect((await authz({ 'x-api-key': secret }, method)).status).toBe(200);
      expect((await authz({ authorization: `Bearer ${secret}` }, method)).status).toBe(200);
    }
  });

  it('Envoy appends the request path to path_prefix: /v1/authz/<path> answers as /v1/authz', async () => {
    const { secret } = await issue();
    const r = await authz({ authorization: `Bearer ${secret}` }, 'GET', '/v1/authz/payments/read/invoices?x=1');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-agent-id')).toBe(agent.id);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect((await authz({ authorization: `Bearer ${secret}` }, method, '/v1/authz/payments/read/invoices')).status).toBe(200);
    }
    const none = await authz({}, 'GET', '/v1/authz/payments/read/invoices');
    expect([none.status, none.headers.get('x-deny-reason')]).toEqual([401, 'MISSING_KEY']);
  });

  it('the client address: X-Real-IP (nginx), else the first X-Forwarded-For entry (Envoy, Traefik)', async () => {
    const { secret } = await issue({ ipAllowlist: ['198.51.100.0/24'] });
    const h = { 'x-api-key': secret };
    expect((await authz({ ...h, 'x-real-ip': '198.51.100.7' })).status).toBe(200);
    expect((await authz({ ...h, 'x-forwarded-for': '198.51.100.7, 10.0.0.1' })).status).toBe(200);
    const outside = await authz({ ...h, 'x-forwarded-for': '203.0.113.1, 198.51.100.7' });
    expect([outside.status, outside.headers.get('x-deny-reason')]).toEqual([403, 'IP_DENIED']);
  });

  it('denials: 401 with WWW-Authenticate, 403, and 429 with Retry-After, each with X-Deny-Reason (what a proxy passes back)', async () => {
    const none = await authz({});
    expect([none.status, none.headers.get('x-deny-reason')]).toEqual([401, 'MISSING_KEY']);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    const unknown = await authz({ 'x-api-key': 'garbage' });
    expect([unknown.status, unknown.headers.get('x-deny-reason')]).toEqual([401, 'MALFORMED']);
    expect(unknown.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');

    const { secret } = await issue({ rateLimit: { requests: 1, perSeconds: 3600 } });
    const scope = await authz({ 'x-api-key': secret, 'x-required-scope': 'payments:write' });
    expect([scope.status, scope.headers.get('x-deny-reason')]).toEqual([403, 'SCOPE_DENIED']);
    expect((await authz({ 'x-api-key': secret })).status).toBe(200);
    const limited = await authz({ 'x-api-key': secret });
    expect([limited.status, limited.headers.get('x-deny-reason')]).toEqual([429, 'RATE_LIMITED']);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('a missing or wrong gateway token: 401 GATEWAY_UNAUTHENTICATED, whatever the key', async () => {
    const { secret } = await issue();
    for (const token of [undefined, 'agt_wrong', '']) {
      const headers: Record<string, string> = { 'x-api-key': secret };
      if (token !== undefined) headers['x-gateway-token'] = token;
      const r = await t.http.request('GET', '/v1/authz', undefined, { headers });
      expect([r.status, r.headers.get('x-deny-reason')]).toEqual([401, 'GATEWAY_UNAUTHENTICATED']);
    }
  });
});
