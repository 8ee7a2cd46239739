import { AuthGuard } from '../../src/auth/auth.guard';
import { OAuthService } from '../../src/oauth/oauth.service';
import { SigningKeysRepository } from '../../src/oauth/signing-keys.repository';
import { Fixtures } from '../support/fixtures';
import { eventually } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';
import { basic, OAuthClient, oauthClient, postForm, tokenWithBasic } from './oauth-support';

/**
 * The token endpoint's hot path. POST /oauth/token and /oauth/introspect are plain Fastify handlers
 * (src/oauth/oauth-http.ts), outside Nest's router: they skip its pipeline, and answer as the controller did,
 * with everything Fastify does around every route (request id, access log, problem+json for anything that is
 * not an OAuth error). And no token request waits for the periodic re-read of the signing keys.
 */
describe('OAuth token hot path', () => {
  let t: TestApp;
  let f: Fixtures;
  let client: OAuthClient;

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    const { agent, product } = await f.world();
    client = await oauthClient(f, agent.id, [`${product.name}:read`]);
  });
  afterAll(() => t.close());
  afterEach(() => jest.restoreAllMocks());

  it("token and introspection requests do not go through Nest's guard; revocation and the API still do", async () => {
    const guard = jest.spyOn(AuthGuard.prototype, 'canActivate');
    const issued = await tokenWithBasic(t, client);
    expect(issued.status).toBe(200);
    const introspected = await postForm(t, '/oauth/introspect', { token: issued.body.access_token }, basic(client.clientId, client.secret));
    expect(introspected.body.active).toBe(true);
    expect(guard).not.toHaveBeenCalled();

    expect((await postForm(t, '/oauth/revoke', { token: issued.body.access_token }, basic(client.clientId, client.secret))).status).toBe(
      200,
    );
    expect(guard).toHaveBeenCalledTimes(1);
    expect((await t.http.get('/v1/owners', f.admin)).status).toBe(200);
    expect(guard).toHaveBeenCalledTimes(2);
  });

  it('answers carry the request id and never-cache headers, and are access-logged under that id without the secret', async () => {
    const ok = await postForm(
      t,
      '/oauth/token',
      { grant_type: 'client_credentials' },
      { ...basic(client.clientId, client.secret), 'x-request-id': 'plain-ok-1' },
    );
    const refused = await postForm(
      t,
      '/oauth/introspect',
      { token: 'x' },
      { authorization: 'Bearer agt_unknown', 'x-request-id': 'plain-refused-1' },
    );
    expect([ok.status, ok.headers.get('x-request-id'), ok.headers.get('content-type')]).toEqual([
      200,
      'plain-ok-1',
      'application/json; charset=utf-8',
    ]);
    expect([refused.status, refused.headers.get('x-request-id'), refused.body.error]).toEqual([401, 'plain-refused-1', 'invalid_token']);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer /);
    for (const r of [ok, refused]) {
      expect([r.headers.get('cache-control'), r.headers.get('pragma')]).toEqual(['no-store', 'no-cache']);
    }
    await eventually(
      () => t.logs.text().includes('plain-ok-1') && t.logs.text().includes('plain-refused-1'),
      5_000,
      'the access log lines',
    );
    expect(t.logs.text()).not.toContain(client.secret);
  });

  it('anything but an OAuth error is problem+json with the request id, as on every other route', async () => {
    jest.spyOn(OAuthService.prototype, 'token').mockRejectedValue(new Error('boom'));
    const r = await tokenWithBasic(t, client);
    expect(r.status).toBe(500);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.body).toMatchObject({ status: 500, code: 'INTERNAL', requestId: r.headers.get('x-request-id') });
    expect(r.headers.get('cache-control')).toBe('no-store');
  });

  it('a token request does not wait for the periodic re-read of the signing keys', async () => {
    expect((await tokenWithBasic(t, client)).status).toBe(200);
    const reads = jest.spyOn(SigningKeysRepository.prototype, 'unexpired').mockReturnValue(new Promise(() => undefined));
    t.clock.advance(60_000);
    const r = await tokenWithBasic(t, client);
    expect(r.status).toBe(200);
    // The re-read was started (and is still hanging), in the background.
    expect(reads).toHaveBeenCalledTimes(1);
  });
});
