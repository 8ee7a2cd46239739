import { ApiTokenCache } from '../../src/auth/api-token-cache';
import { TokenClientCache } from '../../src/oauth/token-client-cache';
import { basic, oauthClient, postForm } from '../oauth/oauth-support';
import { Fixtures } from '../support/fixtures';
import { eventually } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';
import { EnforcementTesting } from './enforcement-testing';

/**
 * The hot path's two smaller caches (src/auth/api-token-cache.ts,
 * src/oauth/token-client-cache.ts): they are used (a change made behind the
 * service's back, without its NOTIFY, is not seen), a change made through the
 * service is seen at once, and losing the LISTEN connection drops them.
 */
describe('hot path caches: API tokens and OAuth clients', () => {
  let t: TestApp;
  let f: Fixtures;
  let e: EnforcementTesting;
  let world: { owner: any; product: any; agent: any };
  let gatewayId: string;
  let read: string;

  const authz = (gatewayToken: string, key: string) =>
    t.http.request('GET', '/v1/authz', undefined, { headers: { 'x-gateway-token': gatewayToken, 'x-api-key': key } });
  const listening = () => eventually(async () => e.cacheEnabled(), 5_000);

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    e = new EnforcementTesting(t);
    world = await f.world();
    read = `${world.product.name}:read`;
    gatewayId = (await f.gateway()).id;
  });
  afterAll(() => t.close());

  it('authenticates a gateway token from the cache; its revocation is refused at once; a lost listener drops the cache', async () => {
    await listening();
    const { secret } = await f.credential(world.agent.id, [read]);
    const revokedThroughApi = await f.token('gateway', undefined, gatewayId);
    const revokedBehindTheBack = await f.token('gateway', undefined, gatewayId);
    await e.heardEarlierChanges();
    for (const g of [revokedThroughApi, revokedBehindTheBack]) expect((await authz(g.token, secret!)).status).toBe(200);
    expect(t.app.get(ApiTokenCache).size).toBeGreaterThanOrEqual(2);

    // Through the service: the NOTIFY in the revoking transaction drops it before the next call.
    expect((await t.http.delete(`/v1/tokens/${revokedThroughApi.id}`, f.admin)).status).toBe(204);
    const refused = await authz(revokedThroughApi.token, secret!);
    expect([refused.status, refused.headers.get('x-deny-reason')]).toEqual([401, 'GATEWAY_UNAUTHENTICATED']);
    expect((await t.http.get('/v1/gateways', revokedThroughApi.token)).status).toBe(401);

    // Behind its back (no NOTIFY): the replica still answers from memory, which is what the cache is for...
    await t.dataSource.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1', [revokedBehindTheBack.id]);
    expect((await authz(revokedBehindTheBack.token, secret!)).status).toBe(200);
    // ...until it can no longer hear changes: then nothing is answered from memory.
    e.dropListener();
    expect((await authz(revokedBehindTheBack.token, secret!)).status).toBe(401);
    await listening();
    expect((await authz(revokedBehindTheBack.token, secret!)).status).toBe(401);
  });

  it('the revoking replica drops a revoked token at commit, without waiting for its own NOTIFY', async () => {
    await listening();
    const { secret } = await f.credential(world.agent.id, [read]);
    const gateway = await f.token('gateway', undefined, gatewayId);
    expect((await authz(gateway.token, secret!)).status).toBe(200);
    const unmute = e.muteNotifications();
    try {
      expect((await t.http.delete(`/v1/tokens/${gateway.id}`, f.admin)).status).toBe(204);
      expect((await authz(gateway.token, secret!)).headers.get('x-deny-reason')).toBe('GATEWAY_UNAUTHENTICATED');
      expect(e.cacheEnabled()).toBe(true);
    } finally {
      unmute();
    }
  });

  it("reads an OAuth client's state once, not per token; revocations through the service are refused at once", async () => {
    await listening();
    const gatewayToken = (await f.token('gateway', undefined, gatewayId)).token;
    const c = await oauthClient(f, world.agent.id, [read]);
    await e.heardEarlierChanges();
    const issue = async () => {
      const r = await postForm(t, '/oauth/token', { grant_type: 'client_credentials' }, basic(c.clientId, c.secret));
      expect(r.status).toBe(200);
      return r.body.access_token as string;
    };
    const [first, second, third] = [await issue(), await issue(), await issue()];
    for (const token of [first, second, third]) expect((await authz(gatewayToken, token)).status).toBe(200);
    expect(t.app.get(TokenClientCache).size).toBeGreaterThanOrEqual(1);

    // RFC 7009 revocation through the service: refused at once (verify, authz and introspection).
    expect((await postForm(t, '/oauth/revoke', { token: first }, basic(c.clientId, c.secret))).status).toBe(200);
    expect((await authz(gatewayToken, first)).headers.get('x-deny-reason')).toBe('REVOKED');
    expect((await postForm(t, '/oauth/introspect', { token: first }, basic(c.clientId, c.secret))).body).toEqual({ active: false });
    expect((await authz(gatewayToken, second)).status).toBe(200);

    // A revocation written behind the service's back is not seen while the cache holds the client...
    const jti = JSON.parse(Buffer.from(second.split('.')[1], 'base64url').toString()).jti as string;
    await t.dataSource.query(
      `INSERT INTO oauth_revoked_tokens (jti, credential_id, revoked_at, expires_at) VALUES ($1, $2, now(), now() + interval '1 hour')`,
      [jti, c.credential.id],
    );
    expect((await authz(gatewayToken, second)).status).toBe(200);
    // ...and is once the listener is lost (the cache is dropped and off).
    e.dropListener();
    expect((await authz(gatewayToken, second)).headers.get('x-deny-reason')).toBe('REVOKED');
    await listening();

    // The client revoked: every token refused at once.
    expect((await authz(gatewayToken, third)).status).toBe(200);
    expect((await t.http.post(`/v1/credentials/${c.credential.id}/revoke`, { reason: 'leaked' }, f.admin)).status).toBe(202);
    expect((await authz(gatewayToken, third)).headers.get('x-deny-reason')).toBe('REVOKED');
  });

  it('writes no access-log line per verify or authz call (each is a usage record instead); other routes still log theirs', async () => {
    const gatewayToken = (await f.token('gateway', undefined, gatewayId)).token;
    const { secret } = await f.credential(world.agent.id, [read]);
    const requestIds = async (call: () => Promise<{ headers: Headers }>) => (await call()).headers.get('x-request-id')!;
    const hot = [
      await requestIds(() => authz(gatewayToken, secret!)),
      await requestIds(() =>
        t.http.request('POST', '/v1/authz/some/path', undefined, { headers: { 'x-gateway-token': gatewayToken, 'x-api-key': secret! } }),
      ),
      await requestIds(() => t.http.post('/v1/verify', { key: secret }, gatewayToken)),
      await requestIds(() => authz(gatewayToken, 'agk_live_not-a-key')),
    ];
    const other = await requestIds(() => t.http.get('/v1/owners', f.admin));
    await eventually(() => t.logs.text().includes(other), 5_000, 'the other route logged');
    for (const id of hot) expect(t.logs.text()).not.toContain(id);
  });
});
