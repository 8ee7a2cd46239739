import { sweep, waitForRotations } from '../rotation/rotation-helpers';
import { Fixtures } from '../support/fixtures';
import { eventually } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * POST /v1/verify and /v1/authz on one replica: every answer code and header,
 * the environments a gateway token sees, grace and retirement of rotated
 * versions, and who may call them.
 */
describe('verification: verify and authz', () => {
  let t: TestApp;
  let f: Fixtures;
  let world: { owner: any; product: any; agent: any };
  let gatewayBoth: { id: string; token: string };
  let gatewaySandbox: { id: string; token: string };

  const verify = (body: Record<string, unknown>, token = gatewayBoth.token) => t.http.post('/v1/verify', body, token);
  const authz = (headers: Record<string, string>, method = 'GET') => t.http.request(method, '/v1/authz', undefined, { headers });
  const issue = async (overrides: Record<string, unknown> = {}, scopes = [`${world.product.name}:read`]) => {
    const made = await f.credential(world.agent.id, scopes, overrides);
    return { credential: made.credential, secret: made.secret! };
  };

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    world = await f.world();
    const both = await f.gateway(['production', 'sandbox']);
    gatewayBoth = { id: both.id, token: (await f.token('gateway', undefined, both.id)).token };
    const sandbox = await f.gateway(['sandbox']);
    gatewaySandbox = { id: sandbox.id, token: (await f.token('gateway', undefined, sandbox.id)).token };
  });
  afterAll(() => t.close());

  it('answers VALID with the credential, its scopes, version and rate limit', async () => {
    const { credential, secret } = await issue({ rateLimit: { requests: 5, perSeconds: 60 } });
    const r = await verify({ key: secret, scope: `${world.product.name}:read`, ip: '203.0.113.9' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      valid: true,
      code: 'VALID',
      credentialId: credential.id,
      clientId: credential.clientId,
      agentId: world.agent.id,
      ownerId: world.owner.id,
      environment: 'production',
      scopes: [`${world.product.name}:read`],
      version: 1,
      deprecated: false,
      rateLimit: { limit: 5, remaining: 4 },
    });
    expect(Date.parse(r.body.rateLimit.resetAt)).toBeGreaterThan(Date.now());
    // Without a scope (any scope is fine) it is still VALID.
    const again = await verify({ key: secret });
    expect(t.logs.lines.filter((l) => /rate limit/i.test(l))).toEqual([]);
    expect(again.body).toMatchObject({ valid: true, rateLimit: { remaining: 3 } });
  });

  it('answers MALFORMED, NOT_FOUND, SCOPE_DENIED, IP_DENIED, RATE_LIMITED and REVOKED', async () => {
    const { credential, secret } = await issue({
      rateLimit: { requests: 2, perSeconds: 3600 },
      ipAllowlist: ['10.0.0.0/8', '2001:db8::/32'],
    });
    // A flipped character fails the checksum.
    const flipped = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
    expect((await verify({ key: flipped })).body).toEqual({ valid: false, code: 'MALFORMED' });
    expect((await verify({ key: 'hello' })).body).toEqual({ valid: false, code: 'MALFORMED' });
    // Well formed, but no credential has it: another credential's key, revoked and forgotten, is not needed; a fresh valid shape is.
    const { formatSecret } = await import('../../src/inventory/credential-secret');
    const unknown = formatSecret('production', Buffer.alloc(32, 7));
    expect((await verify({ key: unknown })).body).toEqual({ valid: false, code: 'NOT_FOUND' });

    expect((await verify({ key: secret, scope: `${world.product.name}:write`, ip: '10.1.2.3' })).body).toMatchObject({
      valid: false,
      code: 'SCOPE_DENIED',
      credentialId: credential.id,
    });
    expect((await verify({ key: secret, scope: 'no-such-product:read', ip: '10.1.2.3' })).body).toMatchObject({ code: 'SCOPE_DENIED' });
    expect((await verify({ key: secret, ip: '192.0.2.1' })).body).toMatchObject({ valid: false, code: 'IP_DENIED' });
    expect((await verify({ key: secret })).body).toMatchObject({ valid: false, code: 'IP_DENIED' });
    expect((await verify({ key: secret, ip: '::ffff:10.9.9.9' })).body).toMatchObject({ valid: true });
    expect((await verify({ key: secret, ip: '2001:db8::1' })).body).toMatchObject({ valid: true, rateLimit: { remaining: 0 } });
    const limited = await verify({ key: secret, ip: '10.1.1.1' });
    expect(limited.body).toMatchObject({ valid: false, code: 'RATE_LIMITED', rateLimit: { limit: 2, remaining: 0 } });

    const revoked = await t.http.post(`/v1/credentials/${credential.id}/revoke`, { reason: 'test' }, f.admin);
    expect(revoked.status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await verify({ key: secret, ip: '10.1.1.1' })).body).toMatchObject({
      valid: false,
      code: 'REVOKED',
      credentialId: credential.id,
    });
  });

  it('refuses a credential of an environment the gateway does not serve, without describing it', async () => {
    const { secret } = await issue();
    expect((await verify({ key: secret }, gatewaySandbox.token)).body).toEqual({ valid: false, code: 'ENVIRONMENT_MISMATCH' });
    expect((await verify({ key: secret, environment: 'production' }, gatewaySandbox.token)).body).toEqual({
      valid: false,
      code: 'ENVIRONMENT_MISMATCH',
    });
    // An admin checks against the environment it names, or any.
    expect((await verify({ key: secret, environment: 'sandbox' }, f.admin)).body).toEqual({ valid: false, code: 'ENVIRONMENT_MISMATCH' });
    expect((await verify({ key: secret }, f.admin)).body).toMatchObject({ valid: true });
    const sandbox = await issue({ environment: 'sandbox' });
    expect((await verify({ key: sandbox.secret }, gatewaySandbox.token)).body).toMatchObject({ valid: true, environment: 'sandbox' });
  });

  it('accepts the previous version during its grace period as deprecated, and refuses it from graceEndsAt', async () => {
    const ownerToken = await f.token('owner', world.owner.id);
    const made = await f.credential(world.agent.id, [`${world.product.name}:read`], { gracePeriodHours: 1 }, ownerToken.token);
    const old = made.secret!;
    expect((await verify({ key: old })).body).toMatchObject({ valid: true, version: 1, deprecated: false });
    expect((await t.http.post(`/v1/credentials/${made.credential.id}/rotate`, {}, f.admin)).status).toBe(202);
    const [rotation] = await waitForRotations(t.dataSource, [made.credential.id], (rows) => rows[0]?.status === 'completed', 30_000);
    const claimed = await t.http.post(`/v1/credentials/${made.credential.id}/claim`, undefined, ownerToken.token);
    expect(claimed.status).toBe(200);
    const fresh = claimed.body.secret as string;
    expect((await verify({ key: fresh })).body).toMatchObject({ valid: true, version: 2, deprecated: false });
    expect((await verify({ key: old })).body).toMatchObject({ valid: true, version: 1, deprecated: true });
    const graceEndsAt = new Date(rotation.grace_ends_at!).getTime();
    // A millisecond before the end of grace: still valid. From graceEndsAt: RETIRED, with no event needed.
    t.clock.set(new Date(graceEndsAt - 1));
    expect((await verify({ key: old })).body).toMatchObject({ valid: true, deprecated: true });
    t.clock.set(new Date(graceEndsAt));
    expect((await verify({ key: old })).body).toMatchObject({ valid: false, code: 'RETIRED', version: 1 });
    const denied = await authz({ 'x-gateway-token': gatewayBoth.token, 'x-api-key': old });
    expect([denied.status, denied.headers.get('x-deny-reason')]).toEqual([401, 'RETIRED']);
    // Once the sweep retires it (credential.version_retired), still RETIRED; the new version is unaffected.
    t.clock.advance(1000);
    await sweep(t);
    await waitForRotations(t.dataSource, [made.credential.id], (rows) => rows[0]?.retired_at !== null, 20_000, 'retired');
    expect((await verify({ key: old })).body).toMatchObject({ valid: false, code: 'RETIRED' });
    expect((await verify({ key: fresh })).body).toMatchObject({ valid: true, version: 2, deprecated: false });
    t.clock.set(new Date());
  });

  it('refuses bad input to /v1/verify with 400 problem+json naming the field', async () => {
    const { secret } = await issue();
    const cases: Array<[unknown, string]> = [
      [{}, 'key'],
      [{ key: 42 }, 'key'],
      [{ key: secret, scope: 'Customers:Read' }, 'scope'],
      [{ key: secret, scope: 'customers' }, 'scope'],
      [{ key: secret, ip: '10.0.0.1/8' }, 'ip'],
      [{ key: secret, ip: '999.1.1.1' }, 'ip'],
      [{ key: secret, ip: '010.1.1.1' }, 'ip'],
      [{ key: secret, environment: 'staging' }, 'environment'],
      [{ key: secret, extra: 1 }, 'extra'],
    ];
    for (const [body, field] of cases) {
      const r = await verify(body as Record<string, unknown>);
      expect([JSON.stringify(body).replace(secret, 'KEY'), r.status]).toEqual([JSON.stringify(body).replace(secret, 'KEY'), 400]);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.body.errors.map((e: any) => e.field)).toContain(field);
    }
  });

  it('lets only gateway and admin tokens verify', async () => {
    const { secret } = await issue();
    const owner = await f.token('owner', world.owner.id);
    for (const role of ['responder', 'auditor'] as const) {
      expect((await verify({ key: secret }, (await f.token(role)).token)).status).toBe(403);
    }
    expect((await verify({ key: secret }, owner.token)).status).toBe(403);
    expect((await t.http.post('/v1/verify', { key: secret })).status).toBe(401);
    expect((await verify({ key: secret }, f.admin)).status).toBe(200);
    expect((await verify({ key: secret }, gatewayBoth.token)).status).toBe(200);
  });

  describe('/v1/authz', () => {
    it('allows with the agent headers, from Authorization: Bearer or X-Api-Key, on any method', async () => {
      const { credential, secret } = await issue({ rateLimit: { requests: 50, perSeconds: 60 } });
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']) {
        const r = await authz({ 'x-gateway-token': gatewayBoth.token, authorization: `Bearer ${secret}` }, method);
        expect([method, r.status]).toEqual([method, 200]);
        expect(r.headers.get('x-agent-id')).toBe(world.agent.id);
      }
      const r = await authz({
        'x-gateway-token': gatewayBoth.token,
        'x-api-key': secret,
        'x-required-scope': `${world.product.name}:read`,
      });
      expect(r.status).toBe(200);
      expect({
        agent: r.headers.get('x-agent-id'),
        credential: r.headers.get('x-credential-id'),
        client: r.headers.get('x-client-id'),
        owner: r.headers.get('x-owner-id'),
        scopes: r.headers.get('x-scopes'),
        limit: r.headers.get('x-ratelimit-limit'),
        remaining: r.headers.get('x-ratelimit-remaining'),
        deny: r.headers.get('x-deny-reason'),
      }).toEqual({
        agent: world.agent.id,
        credential: credential.id,
        client: credential.clientId,
        owner: world.owner.id,
        scopes: `${world.product.name}:read`,
        limit: '50',
        remaining: '43',
        deny: null,
      });
    });

    it('denies with the contract status, X-Deny-Reason and WWW-Authenticate', async () => {
      const { credential, secret } = await issue({ rateLimit: { requests: 1, perSeconds: 3600 }, ipAllowlist: ['198.51.100.0/24'] });
      const g = { 'x-gateway-token': gatewayBoth.token };
      const expectDenied = async (headers: Record<string, string>, status: number, reason: string) => {
        const r = await authz({ ...g, ...headers });
        expect([reason, r.status, r.headers.get('x-deny-reason')]).toEqual([reason, status, reason]);
        expect(r.headers.get('content-type')).toContain('application/problem+json');
        if (status === 401) expect(r.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
        return r;
      };
      await expectDenied({}, 401, 'MISSING_KEY');
      await expectDenied({ authorization: 'Basic Zm9vOmJhcg==' }, 401, 'MISSING_KEY');
      await expectDenied({ authorization: 'Bearer not-a-key' }, 401, 'MALFORMED');
      const { formatSecret } = await import('../../src/inventory/credential-secret');
      await expectDenied({ 'x-api-key': formatSecret('production', Buffer.alloc(32, 9)) }, 401, 'NOT_FOUND');
      await expectDenied(
        { 'x-api-key': secret, 'x-real-ip': '198.51.100.7', 'x-required-scope': `${world.product.name}:delete` },
        403,
        'SCOPE_DENIED',
      );
      await expectDenied({ 'x-api-key': secret, 'x-real-ip': '198.51.100.7', 'x-required-scope': 'Not A Scope' }, 403, 'SCOPE_DENIED');
      await expectDenied({ 'x-api-key': secret, 'x-real-ip': '192.0.2.1' }, 403, 'IP_DENIED');
      await expectDenied({ 'x-api-key': secret, 'x-real-ip': 'garbage' }, 403, 'IP_DENIED');
      // X-Real-IP wins over X-Forwarded-For; without it the first X-Forwarded-For entry counts.
      await expectDenied({ 'x-api-key': secret, 'x-real-ip': '192.0.2.1', 'x-forwarded-for': '198.51.100.7' }, 403, 'IP_DENIED');
      await expectDenied({ 'x-api-key': secret, 'x-forwarded-for': '192.0.2.1, 198.51.100.7' }, 403, 'IP_DENIED');
      const ok = await authz({ ...g, 'x-api-key': secret, 'x-forwarded-for': '198.51.100.7, 192.0.2.1' });
      expect(ok.status).toBe(200);
      const limited = await expectDenied({ 'x-api-key': secret, 'x-real-ip': '198.51.100.7' }, 429, 'RATE_LIMITED');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
      const sandboxOnly = await authz({ 'x-gateway-token': gatewaySandbox.token, 'x-api-key': secret, 'x-real-ip': '198.51.100.7' });
      expect([sandboxOnly.status, sandboxOnly.headers.get('x-deny-reason')]).toEqual([403, 'ENVIRONMENT_MISMATCH']);
      await t.http.post(`/v1/credentials/${credential.id}/revoke`, { reason: 'test' }, f.admin);
      // The cache hears of the revocation by NOTIFY, a few ms after it returns (the contract allows 100 ms).
      await new Promise((resolve) => setTimeout(resolve, 100));
      await expectDenied({ 'x-api-key': secret, 'x-real-ip': '198.51.100.7' }, 401, 'REVOKED');
    });

    it('refuses a missing or wrong gateway token with 401 GATEWAY_UNAUTHENTICATED', async () => {
      const { secret } = await issue();
      const owner = await f.token('owner', world.owner.id);
      for (const token of [undefined, 'agt_nope', owner.token, (await f.token('auditor')).token, secret]) {
        const headers: Record<string, string> = { 'x-api-key': secret };
        if (token) headers['x-gateway-token'] = token;
        const r = await authz(headers);
        expect([r.status, r.headers.get('x-deny-reason')]).toEqual([401, 'GATEWAY_UNAUTHENTICATED']);
      }
      // The gateway token in Authorization (where the agent's key goes) is not a gateway token either.
      const r = await authz({ authorization: `Bearer ${gatewayBoth.token}` });
      expect(r.headers.get('x-deny-reason')).toBe('GATEWAY_UNAUTHENTICATED');
      // An admin token may stand in for a gateway (all environments).
      expect((await authz({ 'x-gateway-token': f.admin, 'x-api-key': secret })).status).toBe(200);
    });

    it('answers 403 instead of 429 when AUTHZ_RATE_LIMITED_STATUS=403', async () => {
      const other = await startTestApp({ env: { AUTHZ_RATE_LIMITED_STATUS: '403' } });
      try {
        const g = new Fixtures(other);
        const w = await g.world();
        const made = await g.credential(w.agent.id, [`${w.product.name}:read`], { rateLimit: { requests: 1, perSeconds: 3600 } });
        const headers = { 'x-gateway-token': other.adminToken, 'x-api-key': made.secret! };
        expect((await other.http.request('GET', '/v1/authz', undefined, { headers })).status).toBe(200);
        const r = await other.http.request('GET', '/v1/authz', undefined, { headers });
        expect([r.status, r.headers.get('x-deny-reason')]).toEqual([403, 'RATE_LIMITED']);
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      } finally {
        await other.close();
      }
    });
  });

  it('records usage in hourly rollups and sets lastUsedAt/lastUsedIp within 5 s, never with the key', async () => {
    const { credential, secret } = await issue({ rateLimit: { requests: 1000, perSeconds: 60 } });
    const scope = `${world.product.name}:read`;
    for (let i = 0; i < 5; i++) await verify({ key: secret, scope, ip: '203.0.113.5' });
    await verify({ key: secret, scope: `${world.product.name}:write`, ip: '203.0.113.6' });
    // The last call one millisecond later: a flush between the calls (the 1 s interval, on a busy machine) must not
    // leave an earlier address with the same instant (lastUsedAt only moves forward).
    t.clock.advance(1);
    await authz({ 'x-gateway-token': gatewayBoth.token, 'x-api-key': secret, 'x-real-ip': '203.0.113.7' });
    const started = Date.now();
    const row = await eventually(
      async () => {
        const [c] = await t.dataSource.query(`SELECT last_used_at, last_used_ip FROM credentials WHERE id = $1`, [credential.id]);
        // The calls may straddle two flushes: wait for the one with the last call.
        return c.last_used_at && c.last_used_ip === '203.0.113.7' ? c : null;
      },
      5_000,
      'lastUsedAt of the last call',
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(row.last_used_ip).toBe('203.0.113.7');
    const got = await t.http.get(`/v1/credentials/${credential.id}`, f.admin);
    expect(got.body.lastUsedAt).not.toBeNull();
    const rollups = await eventually(
      async () => {
        const rows = await t.dataSource.query(
          `SELECT scope, outcome, deny_code, calls::int FROM usage_hourly WHERE credential_id = $1 ORDER BY scope, outcome`,
          [credential.id],
        );
        return rows.reduce((n: number, r: any) => n + r.calls, 0) === 7 ? rows : null;
      },
      5_000,
      'rollups',
    );
    expect(rollups).toEqual([
      { scope: '', outcome: 'allowed', deny_code: '', calls: 1 },
      { scope, outcome: 'allowed', deny_code: '', calls: 5 },
      { scope: `${world.product.name}:write`, outcome: 'denied', deny_code: 'SCOPE_DENIED', calls: 1 },
    ]);
    const ips = await t.dataSource.query(`SELECT ip, calls::int, denied::int FROM usage_ip_hourly WHERE credential_id = $1 ORDER BY ip`, [
      credential.id,
    ]);
    expect(ips).toEqual([
      { ip: '203.0.113.5', calls: 5, denied: 0 },
      { ip: '203.0.113.6', calls: 1, denied: 1 },
      { ip: '203.0.113.7', calls: 1, denied: 0 },
    ]);
    // The key is nowhere in Postgres: not in usage, not in the credential row, not in any audit event.
    const dump = await t.dataSource.query(
      `SELECT (SELECT string_agg(u::text, '') FROM usage_hourly u) || (SELECT string_agg(i::text, '') FROM usage_ip_hourly i)
              || (SELECT string_agg(a::text, '') FROM audit_events a) || (SELECT string_agg(c::text, '') FROM credentials c) AS text`,
    );
    expect(dump[0].text).not.toContain(secret);
    expect(t.logs.text()).not.toContain(secret);
    expect(t.logs.text()).not.toContain(secret.slice(9, 30));
  });
});
