import { credentialBody, Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * Every kind of bad input gets a 4xx problem+json that names the field, and
 * nothing is stored: the row counts and the audit log are unchanged afterwards.
 */
describe('bad input', () => {
  let t: TestApp;
  let f: Fixtures;
  let world: { owner: any; product: any; agent: any };
  let readOnly: any;

  const counts = async () => {
    const [row] = await t.dataSource.query(
      `SELECT (SELECT count(*) FROM owners)::int AS owners, (SELECT count(*) FROM products)::int AS products,
              (SELECT count(*) FROM agents)::int AS agents, (SELECT count(*) FROM credentials)::int AS credentials,
              (SELECT count(*) FROM local_secret_versions)::int AS secrets, (SELECT count(*) FROM api_tokens)::int AS tokens,
              (SELECT count(*) FROM audit_events)::int AS audit`,
    );
    return row;
  };

  const credential = (overrides: Record<string, unknown>) =>
    credentialBody(world.agent.id, [`${world.product.name}:read`], { rateLimit: { requests: 10, perSeconds: 1 }, ...overrides });

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    world = await f.world();
    readOnly = await f.product(undefined, ['read']);
  });
  afterAll(() => t.close());

  function expectProblem(result: { status: number; headers: Headers; body: any }, status: number, fields: string[] = []) {
    expect(result.status).toBe(status);
    expect(result.headers.get('content-type')).toContain('application/problem+json');
    expect(result.body).toMatchObject({ status, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
    expect(Array.isArray(result.body.errors)).toBe(true);
    const named = result.body.errors.map((e: { field: string }) => e.field);
    for (const field of fields) expect(named).toContain(field);
  }

  it('credential bodies: each invalid field is named', async () => {
    const before = await counts();
    const p = world.product.name;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ scopes: [] }, 'scopes'],
      [{ scopes: ['*'] }, 'scopes[0]'],
      [{ scopes: [`${p}:*`] }, 'scopes[0]'],
      [{ scopes: [`${p}:read`, `${p}:read`] }, 'scopes[1]'],
      [{ scopes: ['nosuchproduct:read'] }, 'scopes[0]'],
      [{ scopes: [`${readOnly.name}:write`] }, 'scopes[0]'],
      [{ scopes: [`${p}:execute`] }, 'scopes[0]'],
      [{ scopes: 'customers:read' }, 'scopes'],
      [{ rateLimit: undefined }, 'rateLimit'],
      [{ rateLimit: { requests: 0, perSeconds: 1 } }, 'rateLimit.requests'],
      [{ rateLimit: { requests: 100001, perSeconds: 1 } }, 'rateLimit.requests'],
      [{ rateLimit: { requests: 10, perSeconds: 86401 } }, 'rateLimit.perSeconds'],
      [{ rateLimit: { requests: 10 } }, 'rateLimit.perSeconds'],
      [{ rateLimit: { requests: 10, perSeconds: 1, burst: 5 } }, 'rateLimit.burst'],
      [{ ipAllowlist: ['10.0.0.1'] }, 'ipAllowlist[0]'],
      [{ ipAllowlist: ['10.0.0.0/8', '10.0.0.1/8'] }, 'ipAllowlist[1]'],
      [{ ipAllowlist: ['2001:db8::/129'] }, 'ipAllowlist[0]'],
      [{ ipAllowlist: ['fe80::1/10'] }, 'ipAllowlist[0]'],
      [{ rotationIntervalDays: 91 }, 'rotationIntervalDays'],
      [{ rotationIntervalDays: 0 }, 'rotationIntervalDays'],
      [{ rotationIntervalDays: 1.5 }, 'rotationIntervalDays'],
      [{ gracePeriodHours: 169 }, 'gracePeriodHours'],
      [{ gracePeriodHours: -1 }, 'gracePeriodHours'],
      [{ secretStore: 'hsm' }, 'secretStore'],
      [{ secretStore: 'vault' }, 'secretStore'],
      [{ type: 'password' }, 'type'],
      [{ environment: 'staging' }, 'environment'],
      [{ agentId: 'not-a-uuid' }, 'agentId'],
      [{ agentId: '00000000-0000-4000-8000-000000000000' }, 'agentId'],
      [{ unknownField: true }, 'unknownField'],
    ];
    for (const [override, field] of cases) {
      const r = await t.http.post('/v1/credentials', credential(override), f.admin);
      try {
        expectProblem(r, 400, [field]);
      } catch (error) {
        throw new Error(`case ${JSON.stringify(override)}: ${(error as Error).message}\n${r.text}`);
      }
    }
    expect(await counts()).toEqual(before);
  });

  it('other bodies and parameters', async () => {
    const before = await counts();
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/v1/owners', { name: 'x', email: 'not-an-email', kind: 'team' }, 'email'],
      ['POST', '/v1/owners', { name: '', email: 'a@example.com', kind: 'team' }, 'name'],
      ['POST', '/v1/owners', { name: 'x', email: 'a@example.com', kind: 'robot' }, 'kind'],
      ['POST', '/v1/products', { name: 'Bad_Name', operations: ['read'] }, 'name'],
      ['POST', '/v1/products', { name: 'x', operations: ['read'] }, 'name'],
      ['POST', '/v1/products', { name: 'okname', operations: [] }, 'operations'],
      ['POST', '/v1/products', { name: 'okname', operations: ['read', 'execute'] }, 'operations'],
      ['POST', '/v1/products', { name: 'okname', operations: ['read', 'read'] }, 'operations'],
      ['POST', '/v1/agents', { name: 'a', ownerId: '00000000-0000-4000-8000-000000000000' }, 'ownerId'],
      ['POST', '/v1/agents', { name: 'a', ownerId: 'nope' }, 'ownerId'],
      ['POST', '/v1/tokens', { name: 't', role: 'root' }, 'role'],
      ['POST', '/v1/tokens', { name: 't', role: 'owner' }, 'ownerId'],
      ['POST', '/v1/tokens', { name: 't', role: 'auditor', ownerId: world.owner.id }, 'ownerId'],
      ['GET', '/v1/credentials?limit=0', undefined, 'limit'],
      ['GET', '/v1/credentials?limit=501', undefined, 'limit'],
      ['GET', '/v1/credentials?limit=ten', undefined, 'limit'],
      ['GET', '/v1/credentials?cursor=garbage', undefined, 'cursor'],
      ['GET', '/v1/credentials?status=deleted', undefined, 'status'],
      ['GET', '/v1/credentials?dueBefore=tomorrow', undefined, 'dueBefore'],
      ['GET', '/v1/credentials?sort=name', undefined, 'sort'],
      ['GET', '/v1/credentials/not-a-uuid', undefined, 'id'],
      ['GET', '/v1/audit-events?cursor=abc', undefined, 'cursor'],
      ['GET', '/v1/audit-events?since=yesterday', undefined, 'since'],
      ['PATCH', `/v1/credentials/00000000-0000-4000-8000-000000000000`, { scopes: ['x'], status: 'active' }, 'status'],
      ['POST', '/v1/owners', [1, 2, 3], 'body'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await t.http.request(method, path, body, { token: f.admin });
      try {
        expectProblem(r, 400, [field]);
      } catch (error) {
        throw new Error(`${method} ${path} ${JSON.stringify(body)}: ${(error as Error).message}\n${r.text}`);
      }
    }
    expect(await counts()).toEqual(before);
  });

  it('malformed JSON, empty JSON, wrong content type, too large, unknown route', async () => {
    const before = await counts();
    const json = { 'content-type': 'application/json' };
    expectProblem(await t.http.request('POST', '/v1/owners', undefined, { token: f.admin, headers: json, raw: '{"name": "x",' }), 400, [
      'body',
    ]);
    expectProblem(await t.http.request('POST', '/v1/owners', undefined, { token: f.admin, headers: json, raw: '' }), 400, ['body']);
    expectProblem(
      await t.http.request('POST', '/v1/owners', undefined, { token: f.admin, headers: { 'content-type': 'text/plain' }, raw: 'name=x' }),
      415,
    );
    expectProblem(
      await t.http.request('POST', '/v1/owners', undefined, {
        token: f.admin,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        raw: 'name=x&email=a%40b.c&kind=team',
      }),
      415,
    );
    const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024), email: 'a@example.com', kind: 'team' });
    expectProblem(await t.http.request('POST', '/v1/owners', undefined, { token: f.admin, headers: json, raw: big }), 413);
    expectProblem(await t.http.get('/v1/nothing-here', f.admin), 404);
    expectProblem(await t.http.request('DELETE', '/v1/owners', undefined, { token: f.admin }), 404);
    // Prototype pollution attempts are refused by the JSON parser, not merged.
    const proto = await t.http.request('POST', '/v1/owners', undefined, {
      token: f.admin,
      headers: json,
      raw: '{"name":"x","email":"p@example.com","kind":"team","__proto__":{"admin":true}}',
    });
    expect(proto.status).toBe(400);
    expect(await counts()).toEqual(before);
  });

  it('conflicts are 409 problem+json and store nothing new', async () => {
    const product = await f.product();
    const before = await counts();
    expectProblem(await t.http.post('/v1/products', { name: product.name, operations: ['read'] }, f.admin), 409);
    expectProblem(await t.http.post('/v1/owners', { name: 'dup', email: world.owner.email.toUpperCase(), kind: 'team' }, f.admin), 409);
    expectProblem(await t.http.post('/v1/agents', { name: world.agent.name, ownerId: world.owner.id }, f.admin), 409);
    expect(await counts()).toEqual(before);
  });

  it('answers 404 problem+json for unknown ids', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const path of ['/v1/owners/', '/v1/products/', '/v1/agents/', '/v1/credentials/']) {
      expectProblem(await t.http.get(path + missing, f.admin), 404);
    }
    expectProblem(await t.http.post(`/v1/credentials/${missing}/approve`, undefined, f.admin), 404);
  });

  it('never answers 500 to any of the above', () => {
    const serverErrors = t.logs.lines.filter((line) => /"statusCode":5\d\d/.test(line));
    expect(serverErrors).toEqual([]);
  });
});
