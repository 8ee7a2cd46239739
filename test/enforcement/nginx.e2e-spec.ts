import { waitForRotations } from '../rotation/rotation-helpers';
import { Fixtures } from '../support/fixtures';
import { Nginx, Upstream } from '../support/nginx';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * A real nginx (from Debian) in front of a small upstream, asking the service
 * through `auth_request` (/v1/authz) about every request, with the very
 * configuration shipped as examples/nginx/nginx.conf.template.
 */
describe('nginx auth_request in front of an API', () => {
  jest.setTimeout(120_000);
  let t: TestApp;
  let f: Fixtures;
  let nginx: Nginx;
  let upstream: Upstream;
  let agent: any;
  let owner: any;
  let ownerToken: string;

  beforeAll(async () => {
    t = await startTestApp({ env: { AUTHZ_RATE_LIMITED_STATUS: '403' } });
    f = new Fixtures(t);
    owner = await f.owner();
    agent = await f.agent(owner.id);
    ownerToken = (await f.token('owner', owner.id)).token;
    await f.product('payments', ['read', 'write']);
    const gateway = await f.gateway(['production']);
    const gatewayToken = (await f.token('gateway', undefined, gateway.id)).token;
    upstream = await Upstream.start();
    nginx = await Nginx.start({ authz: new URL(t.baseUrl).host, gatewayToken, upstream: upstream.hostPort });
  });

  afterAll(async () => {
    await nginx?.stop();
    await upstream?.close();
    await t?.close();
  });

  async function issue(overrides: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
    const made = await f.credential(agent.id, ['payments:read'], overrides, ownerToken);
    expect(made.secret).toBeDefined();
    return { id: made.credential.id, secret: made.secret! };
  }

  function call(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${nginx.url}${path}`, { headers });
  }

  it('a valid key reaches the upstream with the agent id; the key does not', async () => {
    const { id, secret } = await issue();
    const before = upstream.received.length;
    const r = await call('/payments/read/invoices', { authorization: `Bearer ${secret}`, 'x-agent-id': 'forged' });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ok: true, agentId: agent.id });
    const got = upstream.received.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0].headers['x-agent-id']).toBe(agent.id);
    expect(got[0].headers['x-credential-id']).toBe(id);
    expect(JSON.stringify(got[0].headers)).not.toContain(secret);
    // X-Api-Key works as well.
    expect((await call('/payments/read/x', { 'x-api-key': secret })).status).toBe(200);
  });

  it('no key or an unknown key: 401 with the reason and the Bearer challenge; nothing reaches the upstream', async () => {
    const before = upstream.received.length;
    const none = await call('/payments/read/x');
    expect([none.status, none.headers.get('x-deny-reason')]).toEqual([401, 'MISSING_KEY']);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    const garbage = await call('/payments/read/x', { authorization: 'Bearer not-a-key' });
    expect([garbage.status, garbage.headers.get('x-deny-reason')]).toEqual([401, 'MALFORMED']);
    expect(upstream.received.length).toBe(before);
  });

  it('a scope the key lacks: 403 SCOPE_DENIED', async () => {
    const { secret } = await issue();
    const r = await call('/payments/write/x', { authorization: `Bearer ${secret}` });
    expect([r.status, r.headers.get('x-deny-reason')]).toEqual([403, 'SCOPE_DENIED']);
  });

  it('the client address comes from X-Forwarded-For through the trusted proxy: outside the allowlist, 403 IP_DENIED', async () => {
    const { secret } = await issue({ ipAllowlist: ['198.51.100.0/24'] });
    const inside = await call('/payments/read/x', { authorization: `Bearer ${secret}`, 'x-forwarded-for': '198.51.100.7' });
    expect(inside.status).toBe(200);
    const outside = await call('/payments/read/x', { authorization: `Bearer ${secret}`, 'x-forwarded-for': '203.0.113.9' });
    expect([outside.status, outside.headers.get('x-deny-reason')]).toEqual([403, 'IP_DENIED']);
    // Without the header the address is the loopback connection's: not in the list either.
    const direct = await call('/payments/read/x', { authorization: `Bearer ${secret}` });
    expect([direct.status, direct.headers.get('x-deny-reason')]).toEqual([403, 'IP_DENIED']);
  });

  it('a revoked key gets 401 within 100 ms of the revoke call returning', async () => {
    const { id, secret } = await issue();
    expect((await call('/payments/read/x', { authorization: `Bearer ${secret}` })).status).toBe(200);
    const revoked = await t.http.post(`/v1/credentials/${id}/revoke`, { reason: 'nginx test' }, t.adminToken);
    expect(revoked.status).toBe(202);
    const returned = performance.now();
    let status = 0;
    let reason: string | null = null;
    while (performance.now() - returned < 100) {
      const r = await call('/payments/read/x', { authorization: `Bearer ${secret}` });
      status = r.status;
      reason = r.headers.get('x-deny-reason');
      if (status === 401) break;
    }
    expect([status, reason]).toEqual([401, 'REVOKED']);
  });

  it('the old version of a rotated key works during grace and gets 401 from graceEndsAt', async () => {
    const { id, secret: old } = await issue({ gracePeriodHours: 1 });
    expect((await t.http.post(`/v1/credentials/${id}/rotate`, {}, t.adminToken)).status).toBe(202);
    const [rotation] = await waitForRotations(t.dataSource, [id], (rows) => rows[0]?.status === 'completed', 60_000);
    const claimed = await t.http.post(`/v1/credentials/${id}/claim`, undefined, ownerToken);
    expect(claimed.status).toBe(200);
    const fresh = claimed.body.secret as string;
    expect((await call('/payments/read/x', { authorization: `Bearer ${fresh}` })).status).toBe(200);
    expect((await call('/payments/read/x', { authorization: `Bearer ${old}` })).status).toBe(200);
    t.clock.set(new Date(new Date(rotation.grace_ends_at!).getTime()));
    const after = await call('/payments/read/x', { authorization: `Bearer ${old}` });
    expect([after.status, after.headers.get('x-deny-reason')]).toEqual([401, 'RETIRED']);
    expect((await call('/payments/read/x', { authorization: `Bearer ${fresh}` })).status).toBe(200);
  });

  it('past the rate limit: 403 with X-Deny-Reason RATE_LIMITED', async () => {
    const { secret } = await issue({ rateLimit: { requests: 3, perSeconds: 3600 } });
    const statuses: number[] = [];
    let last: Response | null = null;
    for (let i = 0; i < 5; i++) {
      last = await call('/payments/read/x', { authorization: `Bearer ${secret}` });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 403, 403]);
    expect(last!.headers.get('x-deny-reason')).toBe('RATE_LIMITED');
  });
});
