import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';

import { SigningKeysService } from '../../src/oauth/signing-keys.service';
import { basic, OAuthClient, oauthClient, postForm } from '../oauth/oauth-support';
import { Fixtures } from '../support/fixtures';
import { eventually } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * POST /v1/verify and /v1/authz with an OAuth access token where a key would
 * be: the token's credential, its scope narrowing the credential's, the same
 * environment, address and rate-limit checks, refusal of a revoked client at
 * once, forged tokens denied (never a 5xx), usage against the credential and
 * the token kept nowhere.
 */
describe('verification: OAuth access tokens', () => {
  let t: TestApp;
  let f: Fixtures;
  let world: { owner: any; product: any; agent: any };
  let gatewayBoth: { id: string; token: string };
  let gatewaySandbox: { id: string; token: string };
  let read: string;
  let write: string;

  const verify = (body: Record<string, unknown>, token = gatewayBoth.token) => t.http.post('/v1/verify', body, token);
  const authz = (headers: Record<string, string>) => t.http.request('GET', '/v1/authz', undefined, { headers });
  const client = (overrides: Record<string, unknown> = {}) => oauthClient(f, world.agent.id, [read, write], overrides);
  const accessToken = async (c: OAuthClient, params: Record<string, string> = {}): Promise<string> => {
    const r = await postForm(t, '/oauth/token', { grant_type: 'client_credentials', ...params }, basic(c.clientId, c.secret));
    expect(r.status).toBe(200);
    return r.body.access_token as string;
  };

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    world = await f.world();
    read = `${world.product.name}:read`;
    write = `${world.product.name}:write`;
    const both = await f.gateway(['production', 'sandbox']);
    gatewayBoth = { id: both.id, token: (await f.token('gateway', undefined, both.id)).token };
    const sandbox = await f.gateway(['sandbox']);
    gatewaySandbox = { id: sandbox.id, token: (await f.token('gateway', undefined, sandbox.id)).token };
  });
  afterAll(() => t.close());

  it('verify answers VALID with the credential and the scopes the token grants', async () => {
    const c = await client({ rateLimit: { requests: 50, perSeconds: 60 } });
    const token = await accessToken(c, { scope: read });
    const r = await verify({ key: token, scope: read, ip: '203.0.113.9' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      valid: true,
      code: 'VALID',
      credentialId: c.credential.id,
      clientId: c.clientId,
      agentId: world.agent.id,
      ownerId: world.owner.id,
      environment: 'production',
      scopes: [read],
      rateLimit: { limit: 50, remaining: 49 },
    });
    // A token is of the client, not of a version of its secret.
    expect(r.body.version).toBeUndefined();
    // A token granted every scope of the credential (no `scope` asked).
    const all = await accessToken(c);
    expect((await verify({ key: all, scope: write })).body).toMatchObject({ valid: true, scopes: [read, write] });
  });

  it('authz answers 200 with X-Agent-Id for a token in Authorization: Bearer or X-Api-Key', async () => {
    const c = await client();
    const token = await accessToken(c, { scope: read });
    const r = await authz({ 'x-gateway-token': gatewayBoth.token, authorization: `Bearer ${token}`, 'x-required-scope': read });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-agent-id')).toBe(world.agent.id);
    expect(r.headers.get('x-credential-id')).toBe(c.credential.id);
    expect(r.headers.get('x-client-id')).toBe(c.clientId);
    const viaHeader = await authz({ 'x-gateway-token': gatewayBoth.token, 'x-api-key': token });
    expect(viaHeader.status).toBe(200);
  });

  it("refuses a scope outside the token's scope (though the credential holds it), and one outside the credential's", async () => {
    const c = await client();
    const token = await accessToken(c, { scope: read });
    expect((await verify({ key: token, scope: write })).body).toMatchObject({
      valid: false,
      code: 'SCOPE_DENIED',
      credentialId: c.credential.id,
    });
    expect((await verify({ key: token, scope: 'no-such-product:read' })).body).toMatchObject({ code: 'SCOPE_DENIED' });
    const r = await authz({ 'x-gateway-token': gatewayBoth.token, authorization: `Bearer ${token}`, 'x-required-scope': write });
    expect(r.status).toBe(403);
    expect(r.headers.get('x-deny-reason')).toBe('SCOPE_DENIED');
  });

  it("applies the environment, the credential's IP allowlist and its rate limit", async () => {
    // The token endpoint checks the allowlist too: the test's own address is in it.
    const c = await client({ rateLimit: { requests: 2, perSeconds: 3600 }, ipAllowlist: ['10.0.0.0/8', '127.0.0.0/8', '::1/128'] });
    const token = await accessToken(c);
    expect((await verify({ key: token, ip: '10.1.1.1' }, gatewaySandbox.token)).body).toEqual({
      valid: false,
      code: 'ENVIRONMENT_MISMATCH',
    });
    expect((await verify({ key: token, ip: '192.0.2.1' })).body).toMatchObject({ valid: false, code: 'IP_DENIED' });
    expect((await verify({ key: token, ip: '10.1.1.1' })).body).toMatchObject({ valid: true, rateLimit: { limit: 2, remaining: 1 } });
    // A second token of the same client shares the credential's limit.
    const other = await accessToken(c);
    expect((await verify({ key: other, ip: '10.1.1.2' })).body).toMatchObject({ valid: true, rateLimit: { remaining: 0 } });
    expect((await verify({ key: token, ip: '10.1.1.1' })).body).toMatchObject({ valid: false, code: 'RATE_LIMITED' });
    const r = await authz({ 'x-gateway-token': gatewayBoth.token, authorization: `Bearer ${other}`, 'x-real-ip': '10.1.1.1' });
    expect(r.status).toBe(t.config.enforcement.authzRateLimitedStatus);
    expect(r.headers.get('x-deny-reason')).toBe('RATE_LIMITED');
  });

  it("answers REVOKED at once for a revoked client's token", async () => {
    const c = await client();
    const token = await accessToken(c);
    expect((await verify({ key: token })).body).toMatchObject({ valid: true });
    const revoked = await t.http.post(`/v1/credentials/${c.credential.id}/revoke`, { reason: 'leaked' }, f.admin);
    expect(revoked.status).toBe(202);
    // No wait: the token's credential is read as it is now.
    expect((await verify({ key: token })).body).toEqual({ valid: false, code: 'REVOKED' });
    const r = await authz({ 'x-gateway-token': gatewayBoth.token, authorization: `Bearer ${token}` });
    expect(r.status).toBe(401);
    expect(r.headers.get('x-deny-reason')).toBe('REVOKED');
  });

  it('answers REVOKED for a token the client revoked, RETIRED for an expired one', async () => {
    const c = await client();
    const token = await accessToken(c);
    // Verified first, so the client's state is cached: the revocation must still be seen at once.
    expect((await verify({ key: token })).body).toMatchObject({ valid: true });
    expect((await postForm(t, '/oauth/revoke', { token }, basic(c.clientId, c.secret))).status).toBe(200);
    expect((await verify({ key: token })).body).toEqual({ valid: false, code: 'REVOKED' });
    const later = await accessToken(c);
    const exp = decodeJwt(later).exp!;
    const before = t.clock.now();
    t.clock.set(new Date((exp + 1) * 1000));
    try {
      expect((await verify({ key: later })).body).toEqual({ valid: false, code: 'RETIRED' });
    } finally {
      t.clock.set(before);
    }
  });

  it('denies a tampered, unsigned or HMAC-signed token, never with a 5xx', async () => {
    const c = await client();
    const token = await accessToken(c);
    const [h, p, s] = token.split('.');
    const claims = decodeJwt(token);
    const tampered = [
      // Signature flipped.
      `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`,
      // Payload changed (another scope), signature kept.
      `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: 'admin:all' })).toString('base64url')}.${s}`,
      // alg: none.
      new UnsecuredJWT({ ...claims }).encode(),
      `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: decodeProtectedHeader(token).kid })).toString('base64url')}.${p}.`,
      // HS256 with a guessable key.
      await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: decodeProtectedHeader(token).kid })
        .sign(new TextEncoder().encode('x'.repeat(32))),
      // Not three parts, or not base64url.
      `${h}.${p}`,
      `${h}.${p}.${s}.x`,
      'a.b.c',
      '...',
    ];
    for (const forged of tampered) {
      const v = await verify({ key: forged });
      expect(v.status).toBe(200);
      expect(v.body.valid).toBe(false);
      expect(['MALFORMED', 'NOT_FOUND']).toContain(v.body.code);
      const r = await authz({ 'x-gateway-token': gatewayBoth.token, authorization: `Bearer ${forged}` });
      expect(r.status).toBe(401);
    }
    // Signed with ES256 by a key we do not publish, under our key id.
    const { privateKey } = await generateKeyPair('ES256');
    const foreign = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: decodeProtectedHeader(token).kid })
      .sign(privateKey);
    expect((await verify({ key: foreign })).body).toEqual({ valid: false, code: 'MALFORMED' });
    // Ours, but for another audience.
    const signer = await t.app.get(SigningKeysService).signingKey();
    const otherAudience = await new SignJWT({ ...claims, aud: 'https://elsewhere.example' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: signer.kid })
      .sign(signer.privateKey);
    expect((await verify({ key: otherAudience })).body).toEqual({ valid: false, code: 'MALFORMED' });
  });

  it('records usage against the credential (lastUsedAt within 5 s), never the token', async () => {
    const c = await client({ rateLimit: { requests: 1000, perSeconds: 60 } });
    const token = await accessToken(c, { scope: read });
    for (let i = 0; i < 3; i++) await verify({ key: token, scope: read, ip: '203.0.113.5' });
    await verify({ key: token, scope: write, ip: '203.0.113.6' });
    // lastUsedAt only moves forward: on a frozen clock, a flush landing between calls would keep the earlier address.
    t.clock.advance(1);
    await authz({ 'x-gateway-token': gatewayBoth.token, authorization: `Bearer ${token}`, 'x-real-ip': '203.0.113.7' });
    const started = Date.now();
    const row = await eventually(
      async () => {
        const [cr] = await t.dataSource.query(`SELECT last_used_at, last_used_ip FROM credentials WHERE id = $1`, [c.credential.id]);
        // A flush may land between the calls: wait for the last one's address.
        return cr.last_used_at && cr.last_used_ip === '203.0.113.7' ? cr : null;
      },
      5_000,
      'lastUsedAt',
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(row.last_used_ip).toBe('203.0.113.7');
    const rollups = await eventually(
      async () => {
        const rows = await t.dataSource.query(
          `SELECT scope, outcome, deny_code, calls::int FROM usage_hourly WHERE credential_id = $1 ORDER BY scope, outcome`,
          [c.credential.id],
        );
        return rows.reduce((n: number, r: any) => n + r.calls, 0) === 5 ? rows : null;
      },
      5_000,
      'rollups',
    );
    expect(rollups).toEqual([
      { scope: '', outcome: 'allowed', deny_code: '', calls: 1 },
      { scope: read, outcome: 'allowed', deny_code: '', calls: 3 },
      { scope: write, outcome: 'denied', deny_code: 'SCOPE_DENIED', calls: 1 },
    ]);
    const events = await eventually(
      async () => {
        const rows = await t.dataSource.query(`SELECT source, outcome FROM usage_events WHERE credential_id = $1`, [c.credential.id]);
        return rows.length === 5 ? rows : null;
      },
      5_000,
      'usage events',
    );
    expect(events.filter((e: any) => e.source === 'authz')).toHaveLength(1);
    // The token is nowhere in Postgres, nor in a log line (neither whole nor its signature).
    const dump = await t.dataSource.query(
      `SELECT (SELECT string_agg(u::text, '') FROM usage_hourly u) || (SELECT string_agg(i::text, '') FROM usage_ip_hourly i)
              || (SELECT string_agg(e::text, '') FROM usage_events e)
              || (SELECT string_agg(a::text, '') FROM audit_events a) || (SELECT string_agg(cr::text, '') FROM credentials cr) AS text`,
    );
    const signature = token.split('.')[2];
    expect(dump[0].text).not.toContain(token);
    expect(dump[0].text).not.toContain(signature);
    expect(t.logs.text()).not.toContain(token);
    expect(t.logs.text()).not.toContain(signature);
  });
});
