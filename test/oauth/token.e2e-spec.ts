import { randomUUID } from 'node:crypto';

import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';

import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';
import { assertion, basic, clientKeyPair, JWT_BEARER, OAuthClient, oauthClient, postForm, tokenWithBasic } from './oauth-support';

/**
 * The token endpoint (RFC 6749 §4.4) through the real server: each client authentication method, the
 * RFC 6749 §5.2 errors, scopes, the credential's IP allowlist and rate limit, and private_key_jwt's rules
 * (RFC 7523: audience, lifetime, single use).
 */
describe('POST /oauth/token', () => {
  let t: TestApp;
  let f: Fixtures;
  let agent: any;
  let product: any;
  let client: OAuthClient;

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    ({ agent, product } = await f.world());
    client = await oauthClient(f, agent.id, [`${product.name}:read`, `${product.name}:write`], {
      rateLimit: { requests: 1000, perSeconds: 1 },
    });
  });
  afterAll(() => t.close());

  it('client_secret_basic: an RFC 9068 access token, never cached, that a gateway verifies with the JWKS alone', async () => {
    const r = await tokenWithBasic(t, client);
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('pragma')).toBe('no-cache');
    expect(r.body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 600,
      scope: `${product.name}:read ${product.name}:write`,
    });
    const header = decodeProtectedHeader(r.body.access_token);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
    const jwks = createRemoteJWKSet(new URL(`${t.baseUrl}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(r.body.access_token, jwks, {
      issuer: t.config.oauth.issuer,
      audience: t.config.oauth.audience,
      typ: 'at+jwt',
      currentDate: t.clock.now(),
    });
    expect(payload).toMatchObject({
      sub: agent.id,
      client_id: client.clientId,
      scope: `${product.name}:read ${product.name}:write`,
      jti: expect.any(String),
    });
    expect(payload.exp! - payload.iat!).toBe(600);
  });

  it('client_secret_post, and a requested subset of the scopes', async () => {
    const r = await postForm(t, '/oauth/token', {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: client.secret,
      scope: `${product.name}:read`,
    });
    expect(r.status).toBe(200);
    expect(r.body.scope).toBe(`${product.name}:read`);
    expect(decodeJwt(r.body.access_token).scope).toBe(`${product.name}:read`);
  });

  it('a secret of the previous version works during its grace period, then not', async () => {
    const own = await oauthClient(f, agent.id, [`${product.name}:read`], { gracePeriodHours: 1 });
    const rotated = await t.http.post(`/v1/credentials/${own.credential.id}/rotate`, {}, f.admin);
    expect(rotated.status).toBe(202);
    await waitFor(
      async () => (await t.http.get(`/v1/credentials/${own.credential.id}/rotations`, f.admin)).body.items[0]?.status === 'completed',
    );
    expect((await tokenWithBasic(t, own)).status).toBe(200);
    t.clock.advance(2 * 60 * 60 * 1000);
    const late = await tokenWithBasic(t, own);
    expect(late.status).toBe(401);
    expect(late.body.error).toBe('invalid_client');
  });

  describe('RFC 6749 §5.2 errors', () => {
    it('invalid_client 401 with a Basic challenge for a wrong secret, an unknown client, or a revoked one', async () => {
      const wrong = await postForm(t, '/oauth/token', { grant_type: 'client_credentials' }, basic(client.clientId, 'agk_live_wrong'));
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
      expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect(wrong.headers.get('content-type')).toContain('application/json');
      expect(wrong.headers.get('cache-control')).toBe('no-store');

      const unknown = await postForm(t, '/oauth/token', { grant_type: 'client_credentials' }, basic('agc_nobody', client.secret));
      expect(unknown.status).toBe(401);
      expect(unknown.body.error_description).toBe(wrong.body.error_description);

      const doomed = await oauthClient(f, agent.id, [`${product.name}:read`]);
      expect((await tokenWithBasic(t, doomed)).status).toBe(200);
      expect((await t.http.post(`/v1/credentials/${doomed.credential.id}/revoke`, { reason: 'test' }, f.admin)).status).toBe(202);
      const revoked = await tokenWithBasic(t, doomed);
      expect(revoked.status).toBe(401);
      expect(revoked.body.error).toBe('invalid_client');
    });

    it('invalid_client 401 without a Basic challenge when no authentication or a post secret is wrong', async () => {
      const none = await postForm(t, '/oauth/token', { grant_type: 'client_credentials' });
      expect(none.status).toBe(401);
      expect(none.body.error).toBe('invalid_client');
      const post = await postForm(t, '/oauth/token', {
        grant_type: 'client_credentials',
        client_id: client.clientId,
        client_secret: 'nope',
      });
      expect(post.status).toBe(401);
      expect(post.headers.get('www-authenticate')).toBeNull();
    });

    it('a pending credential cannot authenticate', async () => {
      const pending = await f.credential(agent.id, [`${product.name}:delete`], { type: 'oauth_client' });
      expect(pending.status).toBe(202);
      const r = await postForm(t, '/oauth/token', {
        grant_type: 'client_credentials',
        client_id: pending.credential.clientId,
        client_secret: 'x',
      });
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('invalid_client');
    });

    it.each([
      [{ grant_type: 'authorization_code' }, 400, 'unsupported_grant_type'],
      [{}, 400, 'invalid_request'],
      [{ grant_type: ['client_credentials', 'client_credentials'] }, 400, 'invalid_request'],
      [{ grant_type: 'client_credentials', scope: 'other:read' }, 400, 'invalid_scope'],
      [{ grant_type: 'client_credentials', scope: 'a\\b' }, 400, 'invalid_scope'],
    ])('%j → %i %s', async (params, status, error) => {
      const r = await postForm(t, '/oauth/token', params as Record<string, string>, basic(client.clientId, client.secret));
      expect(r.status).toBe(status);
      expect(r.body).toEqual({ error, error_description: expect.any(String) });
      expect(r.headers.get('cache-control')).toBe('no-store');
    });

    it('two authentication methods at once, or a JSON body, are invalid_request', async () => {
      const both = await postForm(
        t,
        '/oauth/token',
        { grant_type: 'client_credentials', client_secret: client.secret, client_id: client.clientId },
        basic(client.clientId, client.secret),
      );
      expect(both.status).toBe(400);
      expect(both.body.error).toBe('invalid_request');
      const json = await t.http.request(
        'POST',
        '/oauth/token',
        { grant_type: 'client_credentials' },
        { headers: basic(client.clientId, client.secret) },
      );
      expect(json.status).toBe(400);
      expect(json.body.error).toBe('invalid_request');
    });

    it('an api_key credential is unauthorized_client', async () => {
      const apiKey = await f.credential(agent.id, [`${product.name}:read`]);
      const r = await postForm(t, '/oauth/token', { grant_type: 'client_credentials' }, basic(apiKey.credential.clientId, apiKey.secret!));
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('unauthorized_client');
    });

    it('form bodies stay refused (415) on the JSON routes', async () => {
      const r = await postForm(t, '/v1/owners', { name: 'x' }, { authorization: `Bearer ${f.admin}` });
      expect(r.status).toBe(415);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
    });
  });

  it("the credential's IP allowlist applies", async () => {
    const elsewhere = await oauthClient(f, agent.id, [`${product.name}:read`], { ipAllowlist: ['10.0.0.0/8'] });
    const refused = await tokenWithBasic(t, elsewhere);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('unauthorized_client');
    const here = await oauthClient(f, agent.id, [`${product.name}:read`], { ipAllowlist: ['127.0.0.1/32'] });
    expect((await tokenWithBasic(t, here)).status).toBe(200);
  });

  it("the credential's rate limit applies (requests per perSeconds), with Retry-After", async () => {
    const limited = await oauthClient(f, agent.id, [`${product.name}:read`], { rateLimit: { requests: 3, perSeconds: 60 } });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await tokenWithBasic(t, limited)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const refused = await tokenWithBasic(t, limited);
    expect(refused.body.error).toBe('temporarily_unavailable');
    // The same sliding window as verify and authz (src/common/rate-limit/rate-limiter.ts): no 60 s holds more
    // than 3, so the next token comes when the first calls leave the window, which Retry-After says.
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(60);
    expect(retryAfter).toBeLessThanOrEqual(66);
    t.clock.advance((retryAfter - 6) * 1000);
    expect((await tokenWithBasic(t, limited)).status).toBe(429);
    t.clock.advance(6_000);
    expect((await tokenWithBasic(t, limited)).status).toBe(200);
  });

  describe('private_key_jwt (RFC 7523)', () => {
    let jwtClient: OAuthClient;
    let key: Awaited<ReturnType<typeof clientKeyPair>>;

    beforeAll(async () => {
      jwtClient = await oauthClient(f, agent.id, [`${product.name}:read`]);
      key = await clientKeyPair('ES256');
      const rsa = await clientKeyPair('RS256');
      const registered = await t.http.patch(
        `/v1/credentials/${jwtClient.credential.id}`,
        { jwks: { keys: [key.publicJwk, rsa.publicJwk] } },
        f.admin,
      );
      expect(registered.status).toBe(200);
      expect(registered.body.jwks.keys).toHaveLength(2);
    });

    const withAssertion = (signed: string, extra: Record<string, string> = {}) =>
      postForm(t, '/oauth/token', {
        grant_type: 'client_credentials',
        client_assertion_type: JWT_BEARER,
        client_assertion: signed,
        ...extra,
      });

    it('an assertion for the token endpoint or the issuer gets a token', async () => {
      const forEndpoint = await withAssertion(await assertion(t, jwtClient.clientId, key));
      expect(forEndpoint.status).toBe(200);
      expect(decodeJwt(forEndpoint.body.access_token).client_id).toBe(jwtClient.clientId);
      const forIssuer = await withAssertion(await assertion(t, jwtClient.clientId, key, { aud: t.config.oauth.issuer }), {
        client_id: jwtClient.clientId,
      });
      expect(forIssuer.status).toBe(200);
    });

    it.each(['RS256', 'PS256', 'EdDSA'] as const)('%s keys work too', async (alg) => {
      const own = await oauthClient(f, agent.id, [`${product.name}:read`]);
      const k = await clientKeyPair(alg);
      expect((await t.http.patch(`/v1/credentials/${own.credential.id}`, { jwks: { keys: [k.publicJwk] } }, f.admin)).status).toBe(200);
      expect((await withAssertion(await assertion(t, own.clientId, k))).status).toBe(200);
    });

    it('a replaced JWK set applies to the next assertion: the removed key is refused at once, the new one works', async () => {
      const own = await oauthClient(f, agent.id, [`${product.name}:read`]);
      const first = await clientKeyPair('ES256');
      const second = await clientKeyPair('ES256');
      expect((await t.http.patch(`/v1/credentials/${own.credential.id}`, { jwks: { keys: [first.publicJwk] } }, f.admin)).status).toBe(200);
      expect((await withAssertion(await assertion(t, own.clientId, first))).status).toBe(200);
      expect((await t.http.patch(`/v1/credentials/${own.credential.id}`, { jwks: { keys: [second.publicJwk] } }, f.admin)).status).toBe(
        200,
      );
      const removed = await withAssertion(await assertion(t, own.clientId, first));
      expect(removed.status).toBe(401);
      expect(removed.body.error).toBe('invalid_client');
      expect((await withAssertion(await assertion(t, own.clientId, second))).status).toBe(200);
    });

    it('a jti is single-use within its lifetime', async () => {
      const jti = randomUUID();
      expect((await withAssertion(await assertion(t, jwtClient.clientId, key, { jti }))).status).toBe(200);
      const replay = await withAssertion(await assertion(t, jwtClient.clientId, key, { jti }));
      expect(replay.status).toBe(401);
      expect(replay.body.error).toBe('invalid_client');
    });

    it.each([
      ['expires more than 5 minutes ahead', { expInSeconds: 600 }],
      ['has expired', { expInSeconds: -120 }],
      ['names another audience', { aud: 'https://elsewhere.example.com/token' }],
      ['has sub other than iss', { sub: 'someone-else' }],
    ])('an assertion that %s is invalid_client', async (_what, claims) => {
      const r = await withAssertion(await assertion(t, jwtClient.clientId, key, claims));
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('invalid_client');
    });

    it('an assertion signed by a key not in the set, or by a client without a set, is invalid_client', async () => {
      const stranger = await clientKeyPair('ES256');
      const r = await withAssertion(await assertion(t, jwtClient.clientId, { ...stranger, kid: key.kid }));
      expect(r.status).toBe(401);
      expect((await withAssertion(await assertion(t, client.clientId, stranger))).status).toBe(401);
    });

    it('a wrong client_assertion_type or garbage is refused', async () => {
      const wrongType = await postForm(t, '/oauth/token', {
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:other',
        client_assertion: await assertion(t, jwtClient.clientId, key),
      });
      expect(wrongType.status).toBe(400);
      expect(wrongType.body.error).toBe('invalid_request');
      expect((await withAssertion('not.a.jwt')).status).toBe(401);
    });
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out waiting');
}
