import { ClientAuthCache } from '../../src/oauth/client-auth-cache';
import { EnforcementTesting } from '../enforcement/enforcement-testing';
import { Fixtures } from '../support/fixtures';
import { eventually } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';
import { basic, OAuthClient, oauthClient, postForm, tokenWithBasic } from './oauth-support';

/**
 * Client authentication answered from the replica's memory (src/oauth/client-auth-cache.ts): a known client's
 * token request reads no Postgres (a change made behind the service's back is not seen), every change made
 * through the service is seen by the next request, even before the replica hears its own NOTIFY, and a lost
 * LISTEN connection drops the cache.
 */
describe('OAuth client authentication cache', () => {
  let t: TestApp;
  let f: Fixtures;
  let e: EnforcementTesting;
  let agent: any;
  let read: string;

  const listening = () => eventually(async () => e.cacheEnabled(), 5_000);
  const status = async (client: OAuthClient) => (await tokenWithBasic(t, client)).status;
  /** Runs `change` while the listener ignores every NOTIFY: only the after-commit drop can make it seen. */
  const muted = async <T>(change: () => Promise<T>): Promise<T> => {
    const unmute = e.muteNotifications();
    try {
      return await change();
    } finally {
      unmute();
    }
  };
  const completedRotation = (id: string) =>
    eventually(
      async () => (await t.http.get(`/v1/credentials/${id}/rotations`, f.admin)).body.items[0]?.status === 'completed',
      15_000,
      'the rotation completed',
    );

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    e = new EnforcementTesting(t);
    const world = await f.world();
    agent = world.agent;
    read = `${world.product.name}:read`;
  });
  afterAll(() => t.close());

  it("keeps a known client's credential: a revocation behind the service's back is not seen until the listener drops", async () => {
    await listening();
    const c = await oauthClient(f, agent.id, [read]);
    await e.heardEarlierChanges();
    expect(await status(c)).toBe(200);
    expect(t.app.get(ClientAuthCache).size).toBeGreaterThanOrEqual(1);

    await t.dataSource.query(`UPDATE credentials SET status = 'revoked', revoked_at = now() WHERE id = $1`, [c.credential.id]);
    expect(await status(c)).toBe(200);
    e.dropListener();
    expect(await status(c)).toBe(401);
    await listening();
    expect(await status(c)).toBe(401);
  });

  it('an unknown client id is not remembered', async () => {
    await listening();
    const c = await oauthClient(f, agent.id, [read]);
    await e.heardEarlierChanges();
    const cache = t.app.get(ClientAuthCache);
    const before = cache.size;
    expect(await status({ ...c, clientId: `${c.clientId}x` })).toBe(401);
    expect(cache.size).toBe(before);
    expect(await status(c)).toBe(200);
    expect(cache.size).toBe(before + 1);
  });

  it('a client revoked through the service is refused by the next request, before its NOTIFY is heard', async () => {
    await listening();
    const c = await oauthClient(f, agent.id, [read]);
    expect(await status(c)).toBe(200);
    await muted(async () => {
      expect((await t.http.post(`/v1/credentials/${c.credential.id}/revoke`, { reason: 'leaked' }, f.admin)).status).toBe(202);
      const refused = await tokenWithBasic(t, c);
      expect([refused.status, refused.body.error]).toEqual([401, 'invalid_client']);
      expect(e.cacheEnabled()).toBe(true);
    });
  });

  it('after an immediate rotation through the service the old secret is refused at once and the new one works', async () => {
    await listening();
    const c = await oauthClient(f, agent.id, [read]);
    expect(await status(c)).toBe(200);
    await muted(async () => {
      expect((await t.http.post(`/v1/credentials/${c.credential.id}/rotate`, { immediate: true }, f.admin)).status).toBe(202);
      await completedRotation(c.credential.id);
      expect(await status(c)).toBe(401);
      t.clock.advance(1000);
      const claimed = await t.http.post(`/v1/credentials/${c.credential.id}/claim`, {}, f.admin);
      expect(claimed.status).toBe(200);
      expect(await status({ ...c, secret: claimed.body.secret })).toBe(200);
    });
  });

  it('a new IP allowlist, scopes or rate limit set through the service apply to the next request', async () => {
    await listening();
    const c = await oauthClient(f, agent.id, [read, `${read.split(':')[0]}:write`]);
    expect(await status(c)).toBe(200);
    await muted(async () => {
      const patch = (body: Record<string, unknown>) => t.http.patch(`/v1/credentials/${c.credential.id}`, body, f.admin);
      expect((await patch({ scopes: [read] })).status).toBe(200);
      const narrowed = await tokenWithBasic(t, c);
      expect([narrowed.status, narrowed.body.scope]).toEqual([200, read]);

      expect((await patch({ ipAllowlist: ['10.0.0.0/8'] })).status).toBe(200);
      const outside = await tokenWithBasic(t, c);
      expect([outside.status, outside.body.error]).toEqual([400, 'unauthorized_client']);

      // Two token requests were counted so far (the refused one was not): a limit of two leaves none.
      expect((await patch({ ipAllowlist: [], rateLimit: { requests: 2, perSeconds: 3600 } })).status).toBe(200);
      const limited = await postForm(t, '/oauth/token', { grant_type: 'client_credentials' }, basic(c.clientId, c.secret));
      expect([limited.status, limited.body.error]).toEqual([429, 'temporarily_unavailable']);
    });
  });
});
