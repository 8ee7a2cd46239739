import { ChildApp } from '../support/child-app';
import { Fixtures } from '../support/fixtures';
import { eventually } from '../support/gateway-receiver';
import { Http } from '../support/http';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * Two replicas on one database and one Redis: replica A is the in-process app,
 * replica B a separate process (src/main.ts). A revocation through A is refused
 * by B within 100 ms; rate limits hold across both; a SIGTERM loses no usage.
 */
describe('verification across replicas', () => {
  let a: TestApp;
  let b: ChildApp;
  let bHttp: Http;
  let f: Fixtures;
  let world: { owner: any; product: any; agent: any };
  let gatewayToken: string;

  const startReplica = (env: Record<string, string> = {}) =>
    ChildApp.start({ env: { ...a.env, ROLES: 'api', LOG_LEVEL: 'warn', DATABASE_POOL_SIZE: '4', ...env } });
  const authzOn = (http: Http, key: string) =>
    http.request('GET', '/v1/authz', undefined, { headers: { 'x-gateway-token': gatewayToken, 'x-api-key': key } });

  beforeAll(async () => {
    a = await startTestApp();
    f = new Fixtures(a);
    world = await f.world();
    const gateway = await f.gateway();
    gatewayToken = (await f.token('gateway', undefined, gateway.id)).token;
    b = await startReplica();
    bHttp = new Http(b.baseUrl!);
  }, 180_000);
  afterAll(async () => {
    await b?.stop();
    await a.close();
  });

  it('refuses a key on the other replica within 100 ms of its revocation returning', async () => {
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { credential, secret } = await f.credential(world.agent.id, [`${world.product.name}:read`]);
      // Both replicas have it cached as valid.
      expect((await authzOn(bHttp, secret!)).status).toBe(200);
      expect((await authzOn(a.http, secret!)).status).toBe(200);
      expect((await authzOn(bHttp, secret!)).status).toBe(200);
      const revoked = await a.http.post(`/v1/credentials/${credential.id}/revoke`, { reason: 'leaked' }, f.admin);
      expect(revoked.status).toBe(202);
      const returned = performance.now();
      for (;;) {
        const sent = performance.now();
        const r = await authzOn(bHttp, secret!);
        if (r.status === 401) {
          expect(r.headers.get('x-deny-reason')).toBe('REVOKED');
          // When the refused request was sent: any request sent later is refused too.
          delays.push(sent - returned);
          break;
        }
        if (performance.now() - returned > 2_000) throw new Error('still allowed 2 s after the revocation returned');
      }
    }
    expect(Math.max(...delays)).toBeLessThanOrEqual(100);
  });

  /** Milliseconds from `change` returning until a call on replica B is refused (each call timed from when it was sent). */
  const refusedOnBAfter = async (change: () => Promise<void>, call: () => Promise<{ status: number }>, status = 401): Promise<number> => {
    await change();
    const returned = performance.now();
    for (;;) {
      const sent = performance.now();
      if ((await call()).status === status) return sent - returned;
      if (performance.now() - returned > 2_000) throw new Error('still allowed 2 s after the change returned');
    }
  };

  it('refuses a revoked gateway token on the other replica within 100 ms (its cached authentication is dropped)', async () => {
    const gateway = await f.gateway();
    const { secret } = await f.credential(world.agent.id, [`${world.product.name}:read`]);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const token = await f.token('gateway', undefined, gateway.id);
      const call = () =>
        bHttp.request('GET', '/v1/authz', undefined, { headers: { 'x-gateway-token': token.token, 'x-api-key': secret! } });
      expect((await call()).status).toBe(200);
      expect((await call()).status).toBe(200);
      delays.push(
        await refusedOnBAfter(async () => {
          expect((await a.http.delete(`/v1/tokens/${token.id}`, f.admin)).status).toBe(204);
        }, call),
      );
    }
    expect(Math.max(...delays)).toBeLessThanOrEqual(100);
  });

  it("refuses on the other replica within 100 ms an access token its client revoked (the client's cached state is dropped)", async () => {
    const { basic, oauthClient, postForm } = await import('../oauth/oauth-support');
    const c = await oauthClient(f, world.agent.id, [`${world.product.name}:read`]);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const issued = await postForm(a, '/oauth/token', { grant_type: 'client_credentials' }, basic(c.clientId, c.secret));
      const token = issued.body.access_token as string;
      const call = () => authzOn(bHttp, token);
      expect((await call()).status).toBe(200);
      delays.push(
        await refusedOnBAfter(async () => {
          expect((await postForm(a, '/oauth/revoke', { token }, basic(c.clientId, c.secret))).status).toBe(200);
        }, call),
      );
    }
    expect(Math.max(...delays)).toBeLessThanOrEqual(100);
  });

  it('holds a rate limit across both replicas', async () => {
    const { secret } = await f.credential(world.agent.id, [`${world.product.name}:read`], {
      rateLimit: { requests: 20, perSeconds: 3600 },
    });
    const calls = Array.from({ length: 80 }, (_, i) => authzOn(i % 2 ? bHttp : a.http, secret!));
    const statuses = (await Promise.all(calls)).map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(60);
  });

  it('writes every buffered call to the rollups on SIGTERM', async () => {
    // Writes only at shutdown: the interval is longer than the test.
    const c = await startReplica({ USAGE_FLUSH_INTERVAL_MS: '60000', USAGE_FLUSH_MAX_ENTRIES: '1000000' });
    const http = new Http(c.baseUrl!);
    const { credential, secret } = await f.credential(world.agent.id, [`${world.product.name}:read`], {
      rateLimit: { requests: 100_000, perSeconds: 60 },
    });
    let made = 0;
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(Array.from({ length: 30 }, () => authzOn(http, secret!)));
      made += answers.length;
      expect(answers.every((r) => r.status === 200)).toBe(true);
    }
    const counted = async () =>
      Number(
        (
          await a.dataSource.query(`SELECT coalesce(sum(calls), 0)::int AS n FROM usage_hourly WHERE credential_id = $1`, [credential.id])
        )[0].n,
      );
    expect(await counted()).toBe(0);
    const stopped = await c.terminate(15_000);
    expect(stopped?.code).toBe(0);
    expect(await counted()).toBe(made);
    const [row] = await a.dataSource.query(`SELECT last_used_at FROM credentials WHERE id = $1`, [credential.id]);
    expect(row.last_used_at).not.toBeNull();
    // The key never reached the replica's output.
    expect(c.output.join('\n')).not.toContain(secret);
  }, 180_000);

  it('drops its cache when the listening connection is lost, and hears changes again once it is back', async () => {
    const { EnforcementTesting } = await import('./enforcement-testing');
    const { credential, secret } = await f.credential(world.agent.id, [`${world.product.name}:read`]);
    const testing = new EnforcementTesting(a);
    await testing.heardEarlierChanges();
    expect((await authzOn(a.http, secret!)).status).toBe(200);
    expect(testing.cachedHashes()).toBeGreaterThan(0);
    testing.dropListener();
    await eventually(() => testing.cachedHashes() === 0 || null, 2_000, 'cache dropped');
    await eventually(() => testing.cacheEnabled() || null, 5_000, 'listening again');
    expect((await authzOn(a.http, secret!)).status).toBe(200);
    await bHttp.post(`/v1/credentials/${credential.id}/revoke`, { reason: 'x' }, f.admin);
    await eventually(async () => (await authzOn(a.http, secret!)).status === 401 || null, 1_000, 'refused after revocation');
  });
});
