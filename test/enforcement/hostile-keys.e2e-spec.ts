import fc from 'fast-check';

import { formatSecret } from '../../src/inventory/credential-secret';
import { closeAppBehindProxy, startAppBehindProxy } from '../support/app-behind-proxy';
import { Fixtures } from '../support/fixtures';
import type { TcpProxy } from '../support/tcp-proxy';
import type { TestApp } from '../support/test-app';

/**
 * Keys and headers of any shape: never a 5xx, never the key in a log line, and
 * a malformed key is answered without Postgres (proved by cutting Postgres off:
 * a lookup would fail).
 */
describe('verification of hostile input', () => {
  let t: TestApp;
  let f: Fixtures;
  let proxy: TcpProxy;
  let gatewayToken: string;

  beforeAll(async () => {
    ({ t, proxy } = await startAppBehindProxy());
    f = new Fixtures(t);
    const gateway = await f.gateway();
    gatewayToken = (await f.token('gateway', undefined, gateway.id)).token;
  });
  afterAll(async () => {
    await closeAppBehindProxy(t, proxy);
  });

  it('answers any key, scope-like header and address without a 5xx, and logs none of them', async () => {
    const text = fc.string({ unit: 'binary', maxLength: 300 });
    const headerSafe = fc.string({ unit: 'grapheme-ascii', maxLength: 200 }).map((s) => s.replace(/[\r\n]/g, ''));
    await fc.assert(
      fc.asyncProperty(text, headerSafe, headerSafe, headerSafe, async (key, headerKey, scope, ip) => {
        const body = await t.http.post('/v1/verify', { key }, t.adminToken);
        expect(body.status).toBeLessThan(500);
        if (body.status === 200) expect(['MALFORMED', 'NOT_FOUND']).toContain(body.body.code);
        const headers: Record<string, string> = { 'x-gateway-token': gatewayToken, 'x-required-scope': scope, 'x-real-ip': ip };
        if (headerKey.trim()) headers['x-api-key'] = headerKey;
        const authz = await t.http.request('GET', '/v1/authz', undefined, { headers });
        expect([401, 403]).toContain(authz.status);
        expect(authz.headers.get('x-deny-reason')).toMatch(/^[A-Z_]+$/);
      }),
      { numRuns: 60 },
    );
    const long = 'agk_live_' + 'x'.repeat(100_000);
    expect((await t.http.post('/v1/verify', { key: long }, t.adminToken)).body).toEqual({ valid: false, code: 'MALFORMED' });
  });

  it('answers MALFORMED with Postgres cut off; a well-formed key needs it', async () => {
    const world = await f.world();
    const { secret } = await f.credential(world.agent.id, [`${world.product.name}:read`]);
    const wellFormedUnknown = formatSecret('production', Buffer.alloc(32, 3));
    await proxy.stop();
    try {
      // The admin token is checked in memory: the only thing that could reach Postgres is a key lookup.
      for (const key of [secret!.slice(0, -1) + (secret!.endsWith('a') ? 'b' : 'a'), 'agk_live_short', '', 'Bearer x', 'a'.repeat(5000)]) {
        const r = await t.http.post('/v1/verify', { key }, t.adminToken);
        expect([r.status, r.body.code]).toEqual([200, 'MALFORMED']);
      }
      const needsLookup = await t.http.post('/v1/verify', { key: wellFormedUnknown }, t.adminToken);
      expect(needsLookup.status).toBe(503);
    } finally {
      await proxy.resume();
    }
    expect(t.logs.text()).not.toContain(secret!.slice(9, 40));
    expect(t.logs.text()).not.toContain(wellFormedUnknown.slice(9, 40));
  });
});
