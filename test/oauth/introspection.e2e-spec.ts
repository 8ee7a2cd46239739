import { createHmac, randomUUID } from 'node:crypto';

import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT, UnsecuredJWT } from 'jose';

import { AccessTokensService } from '../../src/oauth/access-tokens.service';
import { OAuthMaintenanceService } from '../../src/oauth/oauth-maintenance.service';
import { SigningKeysService } from '../../src/oauth/signing-keys.service';
import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';
import { basic, OAuthClient, oauthClient, postForm, tokenWithBasic } from './oauth-support';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/**
 * Introspection (RFC 7662), revocation (RFC 7009), the metadata and JWKS documents, the exported
 * AccessTokensService.verify, and signing-key rotation as a gateway verifying locally sees it.
 */
describe('OAuth introspection, revocation and signing keys', () => {
  let t: TestApp;
  let f: Fixtures;
  let agent: any;
  let product: any;
  let client: OAuthClient;
  let verifier: AccessTokensService;

  const introspectAsAdmin = (token: string) => postForm(t, '/oauth/introspect', { token }, { authorization: `Bearer ${f.admin}` });
  const issue = async (c: OAuthClient = client): Promise<string> => {
    const r = await tokenWithBasic(t, c);
    expect(r.status).toBe(200);
    return r.body.access_token;
  };

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    ({ agent, product } = await f.world());
    client = await oauthClient(f, agent.id, [`${product.name}:read`, `${product.name}:write`], {
      rateLimit: { requests: 10000, perSeconds: 1 },
    });
    verifier = t.app.get(AccessTokensService);
  });
  afterAll(() => t.close());

  describe('POST /oauth/introspect', () => {
    it('an active token: what it grants, never cached', async () => {
      const token = await issue();
      const r = await introspectAsAdmin(token);
      expect(r.status).toBe(200);
      expect(r.headers.get('cache-control')).toBe('no-store');
      const claims = decodeJwt(token);
      expect(r.body).toEqual({
        active: true,
        scope: `${product.name}:read ${product.name}:write`,
        client_id: client.clientId,
        sub: agent.id,
        exp: claims.exp,
        iat: claims.iat,
        iss: t.config.oauth.issuer,
        aud: t.config.oauth.audience,
        token_type: 'Bearer',
        jti: claims.jti,
        credential_id: client.credential.id,
      });
    });

    it('the client itself may introspect its own tokens, and sees others as inactive', async () => {
      const token = await issue();
      const own = await postForm(t, '/oauth/introspect', { token }, basic(client.clientId, client.secret));
      expect(own.body.active).toBe(true);
      const other = await oauthClient(f, agent.id, [`${product.name}:read`]);
      const foreign = await postForm(t, '/oauth/introspect', { token }, basic(other.clientId, other.secret));
      expect(foreign.status).toBe(200);
      expect(foreign.body).toEqual({ active: false });
    });

    it('roles: gateway and admin may; owner, responder and auditor tokens may not; unknown tokens and no authentication are 401', async () => {
      const token = await issue();
      const gateway = await f.token('gateway', undefined, (await f.gateway()).id);
      const byGateway = await postForm(t, '/oauth/introspect', { token }, { authorization: `Bearer ${gateway.token}` });
      expect(byGateway.status).toBe(200);
      expect(byGateway.body).toMatchObject({ active: true, client_id: client.clientId });
      const owner = await f.token('owner', (await f.owner()).id);
      for (const role of ['responder', 'auditor'] as const) {
        const other = await f.token(role);
        const r = await postForm(t, '/oauth/introspect', { token }, { authorization: `Bearer ${other.token}` });
        expect(r.status).toBe(403);
        expect(r.body.error).toBe('insufficient_scope');
      }
      expect((await postForm(t, '/oauth/introspect', { token }, { authorization: `Bearer ${owner.token}` })).status).toBe(403);
      const unknown = await postForm(t, '/oauth/introspect', { token }, { authorization: 'Bearer agt_unknown' });
      expect(unknown.status).toBe(401);
      expect(unknown.body.error).toBe('invalid_token');
      expect(unknown.headers.get('www-authenticate')).toMatch(/^Bearer /);
      const none = await postForm(t, '/oauth/introspect', { token });
      expect(none.status).toBe(401);
      expect(none.body.error).toBe('invalid_client');
      expect((await postForm(t, '/oauth/introspect', {}, { authorization: `Bearer ${f.admin}` })).body.error).toBe('invalid_request');
    });

    it("a revoked client's tokens are inactive at once, and verify answers REVOKED", async () => {
      const doomed = await oauthClient(f, agent.id, [`${product.name}:read`]);
      const token = await issue(doomed);
      expect((await introspectAsAdmin(token)).body.active).toBe(true);
      const revoked = await t.http.post(`/v1/credentials/${doomed.credential.id}/revoke`, { reason: 'leaked' }, f.admin);
      expect(revoked.status).toBe(202);
      expect((await introspectAsAdmin(token)).body).toEqual({ active: false });
      expect(await verifier.verify(token)).toEqual({
        valid: false,
        code: 'REVOKED',
        reason: 'credential_revoked',
        credentialId: doomed.credential.id,
      });
    });

    it('an immediate rotation makes tokens issued before it inactive; tokens issued after it work', async () => {
      const own = await oauthClient(f, agent.id, [`${product.name}:read`]);
      const before = await issue(own);
      t.clock.advance(1000);
      expect((await t.http.post(`/v1/credentials/${own.credential.id}/rotate`, { immediate: true }, f.admin)).status).toBe(202);
      await waitFor(
        async () => (await t.http.get(`/v1/credentials/${own.credential.id}/rotations`, f.admin)).body.items[0]?.status === 'completed',
      );
      expect((await introspectAsAdmin(before)).body).toEqual({ active: false });
      expect((await verifier.verify(before)).valid).toBe(false);
      t.clock.advance(1000);
      const claimed = await t.http.post(`/v1/credentials/${own.credential.id}/claim`, {}, f.admin);
      expect(claimed.status).toBe(200);
      const after = await issue({ ...own, secret: claimed.body.secret });
      expect((await introspectAsAdmin(after)).body.active).toBe(true);
    });

    it('a tampered, expired, wrong-audience, alg none or HS256-with-the-public-key token is refused by introspect and verify', async () => {
      const token = await issue();
      const [h, p, s] = token.split('.');
      const claims = decodeJwt(token);
      const header = decodeProtectedHeader(token);
      const tamperedPayload = Buffer.from(JSON.stringify({ ...claims, scope: `${product.name}:admin` })).toString('base64url');
      const jwks = (await t.http.get('/.well-known/jwks.json')).body;
      const publicJwk = jwks.keys.find((k: any) => k.kid === header.kid);
      const hmacHeader = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: header.kid })).toString('base64url');
      const hs256 = `${hmacHeader}.${p}.${createHmac('sha256', JSON.stringify(publicJwk)).update(`${hmacHeader}.${p}`).digest('base64url')}`;
      const none = new UnsecuredJWT({ ...claims }).encode();
      const noneWithType = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: header.kid })).toString('base64url')}.${p}.`;
      // Our own key, the wrong audience: only the service can make one.
      const { kid, privateKey } = await t.app.get(SigningKeysService).signingKey();
      const wrongAudience = await new SignJWT({ ...claims, aud: 'https://other.example.com' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
        .sign(privateKey);
      const wrongType = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid }).sign(privateKey);
      const cases: Array<[string, string, string]> = [
        ['tampered payload', `${h}.${tamperedPayload}.${s}`, 'MALFORMED'],
        ['tampered signature', `${h}.${p}.${s.slice(0, -4)}AAAA`, 'MALFORMED'],
        ['alg none', none, 'MALFORMED'],
        ['alg none typed', noneWithType, 'MALFORMED'],
        ['HS256 with the public key', hs256, 'MALFORMED'],
        ['wrong audience', wrongAudience, 'MALFORMED'],
        ['typ JWT', wrongType, 'MALFORMED'],
        ['garbage', 'abc', 'MALFORMED'],
      ];
      for (const [what, bad, code] of cases) {
        expect([what, (await introspectAsAdmin(bad)).body]).toEqual([what, { active: false }]);
        expect([what, (await verifier.verify(bad)).code]).toEqual([what, code]);
      }
      t.clock.advance(601_000);
      expect((await introspectAsAdmin(token)).body).toEqual({ active: false });
      expect(await verifier.verify(token)).toMatchObject({ valid: false, code: 'RETIRED', reason: 'expired' });
    });
  });

  describe('POST /oauth/revoke', () => {
    it('revokes a token of the client (inactive at once); always 200, whatever the token', async () => {
      const token = await issue();
      const r = await postForm(t, '/oauth/revoke', { token, token_type_hint: 'access_token' }, basic(client.clientId, client.secret));
      expect(r.status).toBe(200);
      expect(r.text).toBe('');
      expect((await introspectAsAdmin(token)).body).toEqual({ active: false });
      expect(await verifier.verify(token)).toMatchObject({ valid: false, code: 'REVOKED', reason: 'token_revoked' });
      // Again, garbage, another client's token: 200, and nothing happens to the other client's token.
      expect((await postForm(t, '/oauth/revoke', { token }, basic(client.clientId, client.secret))).status).toBe(200);
      expect((await postForm(t, '/oauth/revoke', { token: 'garbage' }, basic(client.clientId, client.secret))).status).toBe(200);
      const other = await oauthClient(f, agent.id, [`${product.name}:read`]);
      const othersToken = await issue(other);
      expect((await postForm(t, '/oauth/revoke', { token: othersToken }, basic(client.clientId, client.secret))).status).toBe(200);
      expect((await introspectAsAdmin(othersToken)).body.active).toBe(true);
      const audit = await t.http.get(`/v1/audit-events?action=oauth.access_token_revoked&targetId=${client.credential.id}`, f.admin);
      expect(audit.body.items).toHaveLength(1);
      expect(audit.text).not.toContain(token);
    });

    it('needs client authentication', async () => {
      const r = await postForm(t, '/oauth/revoke', { token: 'x' });
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('invalid_client');
      expect((await postForm(t, '/oauth/revoke', {}, basic(client.clientId, client.secret))).body.error).toBe('invalid_request');
    });
  });

  describe('metadata and JWKS', () => {
    it('RFC 8414 metadata names the endpoints and methods', async () => {
      const r = await t.http.get('/.well-known/oauth-authorization-server');
      expect(r.status).toBe(200);
      const issuer = t.config.oauth.issuer;
      expect(r.body).toMatchObject({
        issuer,
        token_endpoint: `${issuer}/oauth/token`,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        introspection_endpoint: `${issuer}/oauth/introspect`,
        revocation_endpoint: `${issuer}/oauth/revoke`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      });
    });

    it('the JWKS is cacheable and holds public keys only', async () => {
      const r = await t.http.get('/.well-known/jwks.json');
      expect(r.status).toBe(200);
      expect(r.headers.get('cache-control')).toBe('public, max-age=300');
      expect(r.body.keys.length).toBeGreaterThanOrEqual(1);
      for (const key of r.body.keys) {
        expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: expect.any(String) });
        expect(key.d).toBeUndefined();
      }
    });

    it('signing-key rotation on the clock: the next key is published before it signs; old and new tokens both verify at a gateway', async () => {
      const keys = t.app.get(SigningKeysService);
      const maintenance = t.app.get(OAuthMaintenanceService);
      const row = async () =>
        (await t.dataSource.query(`SELECT kid, retires_at FROM oauth_signing_keys ORDER BY activates_at DESC LIMIT 1`))[0] as {
          kid: string;
          retires_at: Date;
        };
      const current = await row();
      expect((await maintenance.sweep()).signingKeysCreated).toBe(0);

      // An hour before the current key retires, the scheduler's sweep publishes its successor.
      t.clock.set(new Date(current.retires_at.getTime() - 55 * MINUTE));
      expect((await maintenance.sweep()).signingKeysCreated).toBe(1);
      const next = await row();
      expect(next.kid).not.toBe(current.kid);
      const published = (await t.http.get('/.well-known/jwks.json')).body.keys.map((k: any) => k.kid);
      expect(published).toEqual(expect.arrayContaining([current.kid, next.kid]));

      // A gateway caches the JWKS; the token signed just before the switch uses the old key.
      const gatewayJwks = createRemoteJWKSet(new URL(`${t.baseUrl}/.well-known/jwks.json`));
      t.clock.set(new Date(current.retires_at.getTime() - 5 * MINUTE));
      const oldToken = await issue();
      expect(decodeProtectedHeader(oldToken).kid).toBe(current.kid);
      t.clock.set(new Date(current.retires_at.getTime() + MINUTE));
      const newToken = await issue();
      expect(decodeProtectedHeader(newToken).kid).toBe(next.kid);
      for (const token of [oldToken, newToken]) {
        const verified = await jwtVerify(token, gatewayJwks, {
          issuer: t.config.oauth.issuer,
          audience: t.config.oauth.audience,
          currentDate: t.clock.now(),
        });
        expect(verified.payload.client_id).toBe(client.clientId);
        expect((await introspectAsAdmin(token)).body.active).toBe(true);
      }

      // The old key leaves the JWKS once its last token has expired (plus the retention margin).
      t.clock.set(new Date(current.retires_at.getTime() + 2 * 60 * MINUTE));
      const later = (await t.http.get('/.well-known/jwks.json')).body.keys.map((k: any) => k.kid);
      expect(later).toEqual([next.kid]);
      expect((await keys.signingKey()).kid).toBe(next.kid);

      // Key creation was audited; the private key is sealed at rest.
      const audit = await t.http.get(`/v1/audit-events?action=oauth.signing_key_created`, f.admin);
      expect(audit.body.items.map((e: any) => e.targetId)).toEqual(expect.arrayContaining([current.kid, next.kid]));
      const sealed = await t.dataSource.query(`SELECT private_jwk_sealed::text AS sealed FROM oauth_signing_keys`);
      for (const { sealed: text } of sealed) expect(text).not.toMatch(/"d"|"x"|"y"/);
    });

    it('replicas racing to make the next key make one (advisory lock, unique signing window)', async () => {
      const keys = t.app.get(SigningKeysService);
      const [{ retires_at: retiresAt }] = await t.dataSource.query(
        `SELECT retires_at FROM oauth_signing_keys ORDER BY activates_at DESC LIMIT 1`,
      );
      t.clock.set(new Date(retiresAt.getTime() - 30 * MINUTE));
      const made = await Promise.all([keys.ensureKeys(), keys.ensureKeys(), keys.ensureKeys()]);
      expect(made.flat()).toHaveLength(1);
      t.clock.advance(DAY);
    });
  });

  it('no client secret, access token or assertion reaches the logs or the audit log', async () => {
    const token = await issue();
    await introspectAsAdmin(token);
    await postForm(t, '/oauth/token', { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.secret });
    const logs = t.logs.text();
    expect(logs).not.toContain(client.secret);
    expect(logs).not.toContain(token.split('.')[2]);
    const audit = await t.dataSource.query(`SELECT data::text AS data FROM audit_events`);
    const text = audit.map((r: any) => r.data).join('\n');
    expect(text).not.toContain(client.secret);
    expect(text).not.toContain(token.split('.')[2]);
    void randomUUID;
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
