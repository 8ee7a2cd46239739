import { createHash } from 'node:crypto';

import { buildConsole } from '../../scripts/build-console';
import { Fixtures } from '../support/fixtures';
import { databaseText, expectProblem, tableCounts } from '../support/problem';
import { startTestApp, TestApp } from '../support/test-app';

const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex');

/** The session cookie of a sign-in answer: `agc_session=<id>`, and its attributes. */
function cookieOf(setCookie: string | null): { pair: string; id: string; attributes: string[] } {
  if (!setCookie) throw new Error('no Set-Cookie');
  const [pair, ...attributes] = setCookie.split(';').map((part) => part.trim());
  return { pair, id: pair.split('=')[1], attributes };
}

describe('console sessions (POST/GET/DELETE /console/session, the cookie on /v1, CSRF, /admin/queues)', () => {
  let t: TestApp;
  let f: Fixtures;
  let owner: any;
  let ownerToken: { id: string; token: string };

  beforeAll(async () => {
    await buildConsole();
    t = await startTestApp();
    f = new Fixtures(t);
    owner = await f.owner();
    ownerToken = await f.token('owner', owner.id);
  });
  afterAll(() => t.close());

  const signIn = async (token: string, headers: Record<string, string> = {}) => {
    const res = await t.http.request('POST', '/console/session', { token }, { headers });
    expect([res.status, res.text]).toEqual([204, '']);
    return cookieOf(res.headers.get('set-cookie'));
  };
  const withCookie = (cookie: string, extra: Record<string, string> = {}) => ({ headers: { cookie, ...extra } });
  const session = async (cookie: string) => t.http.request('GET', '/console/session', undefined, withCookie(cookie));

  it('refuses bad input and unknown tokens with problem+json, storing nothing', async () => {
    const before = await tableCounts(t.dataSource);
    expectProblem(await t.http.post('/console/session', {}), 400, ['token']);
    expectProblem(await t.http.post('/console/session', { token: 42 }), 400, ['token']);
    expectProblem(await t.http.post('/console/session', { token: '' }), 400, ['token']);
    expectProblem(await t.http.post('/console/session', { token: 'x'.repeat(600) }), 400, ['token']);
    expectProblem(await t.http.post('/console/session', { token: ownerToken.token, role: 'admin' }), 400, ['role']);
    expectProblem(
      await t.http.request('POST', '/console/session', undefined, { raw: 'token=x', headers: { 'content-type': 'text/plain' } }),
      415,
    );
    const unknown = await t.http.post('/console/session', { token: 'agt_not_a_real_token_000000000000000000000' });
    expectProblem(unknown, 401);
    expect(unknown.headers.get('set-cookie')).toBeNull();
    expect(await tableCounts(t.dataSource)).toEqual(before);
  });

  it('signs in with a 12 h HttpOnly SameSite=Strict cookie, Secure only behind https, and keeps only digests', async () => {
    const plain = await signIn(ownerToken.token);
    expect(plain.attributes).toEqual(expect.arrayContaining(['Max-Age=43200', 'Path=/', 'HttpOnly', 'SameSite=Strict']));
    expect(plain.attributes).not.toContain('Secure');
    const secure = await signIn(ownerToken.token, { 'x-forwarded-proto': 'https' });
    expect(secure.attributes).toContain('Secure');

    const rows = await t.dataSource.query(
      'SELECT session_sha256, token_sha256, token_name, role, owner_id, expires_at - created_at AS ttl FROM console_sessions',
    );
    expect(rows.map((r: any) => r.session_sha256).sort()).toEqual([sha256Hex(plain.id), sha256Hex(secure.id)].sort());
    expect(rows[0]).toMatchObject({ token_sha256: sha256Hex(ownerToken.token), role: 'owner', owner_id: owner.id });
    const text = await databaseText(t.dataSource);
    for (const secret of [plain.id, secure.id, ownerToken.token]) expect(text).not.toContain(secret);
    expect(t.logs.text()).not.toContain(plain.id);
    expect(t.logs.text()).not.toContain(ownerToken.token);
  });

  it('GET /console/session answers role, owner, token name and a CSRF token; 401 without a live cookie', async () => {
    const { pair } = await signIn(ownerToken.token);
    const res = await session(pair);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      role: 'owner',
      ownerId: owner.id,
      tokenName: expect.stringMatching(/^owner-/),
      tokenId: ownerToken.id,
      csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      expiresAt: expect.any(String),
    });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expectProblem(await t.http.get('/console/session'), 401);
    expectProblem(await session('agc_session=not-a-session'), 401);
    // A bearer token is not a console session.
    expectProblem(await t.http.get('/console/session', ownerToken.token), 401);
  });

  it("lets the cookie call the token's /v1 routes; a state change needs X-CSRF-Token, else 403", async () => {
    const { pair } = await signIn(ownerToken.token);
    const { csrfToken } = (await session(pair)).body;
    expect((await t.http.request('GET', '/v1/agents', undefined, withCookie(pair))).status).toBe(200);
    // The owner's role still decides: tokens are admin-only.
    expectProblem(await t.http.request('GET', '/v1/tokens', undefined, withCookie(pair)), 403);

    const body = { name: 'console-agent', ownerId: owner.id };
    const before = await tableCounts(t.dataSource);
    const missing = await t.http.request('POST', '/v1/agents', body, withCookie(pair));
    expectProblem(missing, 403);
    expect(missing.body.code).toBe('CSRF_TOKEN_INVALID');
    // One character changed; a fixed replacement would equal the token whenever it already ends in it.
    const altered = csrfToken.slice(0, -1) + (csrfToken.endsWith('A') ? 'B' : 'A');
    const wrong = await t.http.request('POST', '/v1/agents', body, withCookie(pair, { 'x-csrf-token': altered }));
    expectProblem(wrong, 403);
    // Another session's CSRF token is wrong for this one.
    const other = await signIn(ownerToken.token);
    const otherCsrf = (await session(other.pair)).body.csrfToken;
    expectProblem(await t.http.request('POST', '/v1/agents', body, withCookie(pair, { 'x-csrf-token': otherCsrf })), 403);
    expect(await tableCounts(t.dataSource)).toMatchObject({ agents: before.agents });

    const created = await t.http.request('POST', '/v1/agents', body, withCookie(pair, { 'x-csrf-token': csrfToken }));
    expect(created.status).toBe(201);
    const [event] = await t.dataSource.query(
      `SELECT actor->>'tokenId' AS actor_token_id FROM audit_events WHERE action = 'agent.created' AND target_id = $1`,
      [created.body.id],
    );
    expect(event.actor_token_id).toBe(ownerToken.id);
    // Another owner's data stays refused through the cookie as through the token.
    const stranger = await f.owner();
    expectProblem(
      await t.http.request('POST', '/v1/agents', { name: 'x', ownerId: stranger.id }, withCookie(pair, { 'x-csrf-token': csrfToken })),
      403,
    );
  });

  it('a bearer token wins over a cookie', async () => {
    const { pair } = await signIn(ownerToken.token);
    const res = await t.http.request('GET', '/v1/tokens', undefined, { token: t.adminToken, headers: { cookie: pair } });
    expect(res.status).toBe(200);
    // ...and a bad bearer token is not rescued by a good cookie.
    expectProblem(await t.http.request('GET', '/v1/agents', undefined, { token: 'agt_wrong', headers: { cookie: pair } }), 401);
  });

  it('ends when its token is revoked, and after 12 hours', async () => {
    const token = await f.token('responder');
    const { pair } = await signIn(token.token);
    expect((await t.http.request('GET', '/v1/credentials', undefined, withCookie(pair))).status).toBe(200);
    expect((await t.http.delete(`/v1/tokens/${token.id}`, t.adminToken)).status).toBe(204);
    expectProblem(await t.http.request('GET', '/v1/credentials', undefined, withCookie(pair)), 401);
    expectProblem(await session(pair), 401);
    expectProblem(await t.http.post('/console/session', { token: token.token }), 401);

    const later = await signIn(ownerToken.token);
    t.clock.advance(12 * 3600 * 1000 - 1000);
    expect((await session(later.pair)).status).toBe(200);
    t.clock.advance(2000);
    expectProblem(await session(later.pair), 401);
  });

  it('signs out with DELETE (CSRF-checked): the session is revoked and both are audited without secrets', async () => {
    const { pair, id } = await signIn(ownerToken.token);
    const { csrfToken } = (await session(pair)).body;
    expectProblem(await t.http.request('DELETE', '/console/session', undefined, withCookie(pair)), 403);
    const out = await t.http.request('DELETE', '/console/session', undefined, withCookie(pair, { 'x-csrf-token': csrfToken }));
    expect(out.status).toBe(204);
    expect(cookieOf(out.headers.get('set-cookie')).attributes).toEqual(
      expect.arrayContaining(['Max-Age=0', 'HttpOnly', 'SameSite=Strict']),
    );
    expectProblem(await session(pair), 401);
    expectProblem(await t.http.request('GET', '/v1/agents', undefined, withCookie(pair)), 401);
    expectProblem(await t.http.request('DELETE', '/console/session', undefined, withCookie(pair, { 'x-csrf-token': csrfToken })), 401);

    const events = await t.dataSource.query(
      `SELECT action, actor->>'tokenId' AS actor_token_id, data::text AS data FROM audit_events WHERE action IN ('console.signed_in', 'console.signed_out')`,
    );
    expect(events.filter((e: any) => e.action === 'console.signed_out')).toHaveLength(1);
    expect(events.length).toBeGreaterThan(5);
    for (const e of events) {
      expect(e.data).not.toContain(id);
      expect(e.data).not.toContain(ownerToken.token);
    }
    expect(events.every((e: any) => typeof e.actor_token_id === 'string')).toBe(true);
  });

  it('serves the console with a strict Content-Security-Policy, and its assets', async () => {
    const page = await t.http.get('/console/reviews');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(page.text).not.toMatch(/<script>|<script [^>]*>[^<]/);
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(page.text)![1];
    const asset = await t.http.get(script);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-security-policy')).toBe(csp);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(asset.text).not.toMatch(/\beval\(|new Function\(/);
  });

  it('/admin/queues: admins only, by session or bearer token; state changes only from this origin', async () => {
    expect((await t.http.get('/admin/queues')).status).toBe(401);
    const html = await fetch(`${t.baseUrl}/admin/queues`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(html.status).toBe(303);
    expect(html.headers.get('location')).toBe('/console/sign-in?next=%2Fadmin%2Fqueues');
    const owned = await signIn(ownerToken.token);
    expectProblem(await t.http.request('GET', '/admin/queues', undefined, withCookie(owned.pair)), 403);
    const auditor = await f.token('auditor');
    expectProblem(await t.http.get('/admin/queues/api/queues', auditor.token), 403);

    const admin = await signIn(t.adminToken);
    const page = await t.http.request('GET', '/admin/queues', undefined, withCookie(admin.pair));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.text).not.toMatch(/https?:\/\//);
    const queues = await t.http.request('GET', '/admin/queues/api/queues', undefined, withCookie(admin.pair));
    expect(queues.status).toBe(200);
    expect(queues.body.queues.map((q: any) => q.name)).toEqual(expect.arrayContaining(['webhook-delivery', 'rotation-local']));
    expect((await t.http.get('/admin/queues/api/queues', t.adminToken)).status).toBe(200);

    const pause = `/admin/queues/api/queues/webhook-delivery/pause`;
    expectProblem(await t.http.request('PUT', pause, undefined, withCookie(admin.pair)), 403);
    const sameOrigin = await t.http.request('PUT', pause, undefined, withCookie(admin.pair, { origin: t.baseUrl }));
    expect(sameOrigin.status).toBeLessThan(300);
    await t.http.request(
      'PUT',
      `/admin/queues/api/queues/webhook-delivery/resume`,
      undefined,
      withCookie(admin.pair, { origin: t.baseUrl }),
    );
  });
});
