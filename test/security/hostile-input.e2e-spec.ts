import { ApiDocument, apiDocument, ApiRoute, fillPath, listRoutes, queryParameters, writeRoutes } from '../support/api-routes';
import type { HttpResult } from '../support/http';
import { expectProblem, settledTableCounts } from '../support/problem';
import { buildRouteWorld, RouteWorld } from '../support/route-world';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * Input that used to reach Postgres or a recursive walk and answer 500: deep
 * JSON, NUL, unpaired surrogates, null in a PATCH, forged cursors and dates,
 * NUL in query strings. Each is thrown at every documented write or list
 * route (read from the app's OpenAPI document, so new routes are covered) and
 * must be a 400 problem+json naming the field, storing nothing.
 */
describe('hostile input at the HTTP boundary', () => {
  let t: TestApp;
  let doc: ApiDocument;
  let world: RouteWorld;
  let before: Record<string, number>;

  beforeAll(async () => {
    t = await startTestApp();
    doc = await apiDocument(t.http);
    world = await buildRouteWorld(t);
    before = await settledTableCounts(t.dataSource);
  });

  afterAll(async () => {
    await t.close();
    await world.receiver.close();
  });

  /** Sends as the admin, or as the owner on routes only owners may call, or as a gateway on routes only gateways may call. */
  async function send(route: ApiRoute, options: { query?: string; body?: unknown; raw?: string } = {}): Promise<HttpResult> {
    const path = fillPath(route.path, world.ids) + (options.query ? `?${options.query}` : '');
    const headers = options.raw !== undefined ? { 'content-type': 'application/json' } : undefined;
    const attempt = (token: string) => t.http.request(route.method, path, options.body, { token, raw: options.raw, headers });
    const res = await attempt(t.adminToken);
    if (res.status !== 403) return res;
    const asOwner = await attempt(world.ownerToken);
    return asOwner.status === 403 ? attempt(world.gatewayToken) : asOwner;
  }

  async function expectRefused(route: ApiRoute, what: string, field: string, options: Parameters<typeof send>[1]): Promise<void> {
    const res = await send(route, options);
    try {
      expectProblem(res, 400, [field]);
    } catch (error) {
      throw new Error(`${route.method} ${route.path} (${what}): ${(error as Error).message}`);
    }
  }

  const bodyRoutes = () => writeRoutes(doc).filter((r) => r.body?.properties);

  /**
   * POST /v1/usage judges each event on its own (a bad event is refused by its
   * index, the rest accepted): hostile content inside `events` is a 202 that
   * refuses exactly those events, naming the field, and stores nothing of them.
   */
  const perEvent = (route: ApiRoute) => route.method === 'POST' && route.path === '/v1/usage';
  async function expectEventsRefused(route: ApiRoute, what: string, expected: Array<{ index: number; field: string }>, body: unknown) {
    const res = await send(route, { body });
    try {
      expect(res.status).toBe(202);
      expect(res.body.accepted).toBe(0);
      expect(res.body.rejected.map((r: { index: number }) => r.index)).toEqual(expected.map((e) => e.index));
      for (const { index, field } of expected) {
        const fields = res.body.rejected.find((r: { index: number }) => r.index === index).errors.map((e: { field: string }) => e.field);
        expect(fields).toContain(field);
      }
    } catch (error) {
      throw new Error(`${route.method} ${route.path} (${what}): ${(error as Error).message}; got ${JSON.stringify(res.body)}`);
    }
  }

  it('finds the routes to test in the OpenAPI document', () => {
    expect(bodyRoutes().length).toBeGreaterThanOrEqual(14);
    expect(listRoutes(doc).length).toBeGreaterThanOrEqual(15);
  });

  it('refuses a body nesting deeper than 32 levels with a 400 naming body, on every write route', async () => {
    const nest = (depth: number, open: string, close: string) => `${open.repeat(depth)}1${close.repeat(depth)}`;
    for (const route of writeRoutes(doc)) {
      await expectRefused(route, '33 objects', 'body', { raw: `{"x":${nest(32, '{"a":', '}')}}` });
      await expectRefused(route, '100000 arrays', 'body', { raw: `{"x":${nest(100_000, '[', ']')}}` });
      await expectRefused(route, '100000 objects', 'body', { raw: nest(100_000, '{"a":', '}') });
    }
    // 32 levels are parsed (and then judged on their fields), brackets inside strings do not count.
    const owners = doc.routes.find((r) => r.method === 'POST' && r.path === '/v1/owners')!;
    const deepButAllowed = await send(owners, { raw: `{"name":"${'{['.repeat(100)}","x":${nest(30, '{"a":', '}')}}` });
    expectProblem(deepButAllowed, 400, ['x']);
  });

  it('refuses NUL, unpaired surrogates and null in any body field with a 400 naming the field, on every write route', async () => {
    for (const route of bodyRoutes()) {
      for (const [name, schema] of Object.entries(route.body!.properties!)) {
        const property = doc.resolve(schema)!;
        await expectRefused(route, `${name}: NUL`, name, { body: { [name]: 'a\u0000b' } });
        await expectRefused(route, `${name}: lone high surrogate`, name, { body: { [name]: 'a\ud800b' } });
        await expectRefused(route, `${name}: lone low surrogate`, name, { body: { [name]: '\udc00' } });
        await expectRefused(route, `${name}: null`, name, { body: { [name]: null } });
        if (property.type === 'array' && perEvent(route)) {
          const event = {
            credentialId: world.ids.credentials,
            at: t.clock.now().toISOString(),
            method: 'GET',
            statusCode: 200,
            ip: '198.51.100.7',
            requestId: 'req-1',
            outcome: 'allowed',
          };
          await expectEventsRefused(route, `${name}[0].path: NUL`, [{ index: 0, field: 'path' }], {
            [name]: [{ ...event, path: '/a\u0000b' }],
          });
          await expectEventsRefused(route, `${name}[0].path: lone surrogate`, [{ index: 0, field: 'path' }], {
            [name]: [{ ...event, path: '/a\ud800' }],
          });
          await expectEventsRefused(route, `${name}[0].path: null`, [{ index: 0, field: 'path' }], { [name]: [{ ...event, path: null }] });
          await expectEventsRefused(
            route,
            `${name}[1]: not an event`,
            [
              { index: 0, field: 'event' },
              { index: 1, field: 'event' },
            ],
            { [name]: ['ok', '\u0000'] },
          );
        } else if (property.type === 'array') {
          await expectRefused(route, `${name}[1]: NUL`, `${name}[1]`, { body: { [name]: ['ok', '\u0000'] } });
        }
        const nested = Object.keys(property.properties ?? {})[0];
        if (nested)
          await expectRefused(route, `${name}.${nested}: NUL`, `${name}.${nested}`, { body: { [name]: { [nested]: 'x\u0000' } } });
      }
      await expectRefused(route, 'NUL in a key', 'na\u0000me', { body: { 'na\u0000me': 'x' } });
    }
  });

  it('refuses keys named like Object.prototype members, at the top or nested, on every write route', async () => {
    for (const route of bodyRoutes()) {
      await expectRefused(route, 'constructor at the top', 'constructor', { body: { constructor: 'x' } });
      await expectRefused(route, 'toString at the top', 'toString', { body: { toString: 'x' } });
      if (perEvent(route)) {
        // The envelope refuses an unknown top-level field by its name without reading into it.
        await expectRefused(route, 'constructor nested', 'x', { body: { x: { constructor: { a: 'b' } } } });
        await expectEventsRefused(route, 'constructor in an event', [{ index: 0, field: 'constructor' }], {
          events: [{ constructor: { a: 'b' } }],
        });
        await expectEventsRefused(route, 'hasOwnProperty in an event', [{ index: 0, field: 'hasOwnProperty' }], {
          events: [{ hasOwnProperty: 1 }],
        });
        continue;
      }
      await expectRefused(route, 'constructor nested', 'x.constructor', { body: { x: { constructor: { a: 'b' } } } });
      await expectRefused(route, 'hasOwnProperty in an array', 'x[0].hasOwnProperty', { body: { x: [{ hasOwnProperty: 1 }] } });
    }
  });

  it('answers a path that is not valid percent-encoding with a 400 problem naming path, without echoing it', async () => {
    for (const path of ['/v1/credentials/%ED%A0%80/rotations', '/v1/owners/%FF', '/v1/agents/%E4%BD']) {
      const res = await t.http.get(path, t.adminToken);
      expectProblem(res, 400, ['path']);
      expect(res.body.code).toBe('BAD_URL');
      expect(res.text).not.toContain('%');
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it("answers a URL or headers too large for Node's HTTP parser with a 431 problem naming headers, on a list route", async () => {
    // Node refuses a request line and headers over 16 KiB before Fastify sees the request.
    const res = await t.http.get(`/v1/credentials?agentId=${'x'.repeat(20_000)}`, t.adminToken);
    expectProblem(res, 431, ['headers']);
    expect(res.body.code).toBe('HEADERS_TOO_LARGE');
    expect(res.text).not.toContain('xxxx');
  });

  it('refuses null for the optional fields of PATCH /v1/owners/:id, naming each', async () => {
    const patch = doc.routes.find((r) => r.method === 'PATCH' && r.path === '/v1/owners/{id}')!;
    await expectRefused(patch, 'email null', 'email', { body: { email: null } });
    await expectRefused(patch, 'name null', 'name', { body: { name: null, email: 'kept@example.com' } });
  });

  it('refuses a cursor that decodes to an out-of-range or unreadable time with a 400 naming cursor, on every list route', async () => {
    const uuid = '00000000-0000-4000-8000-000000000000';
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const cursors = [
      ...[
        '+275760-09-13T00:00:00.000Z',
        '-271821-04-20T00:00:00.000Z',
        '-000001-01-01T00:00:00.000Z',
        '0000-01-01T00:00:00.000Z',
        '+010000-01-01T00:00:00.000Z',
      ].map((at) => encode([at, uuid])),
      encode(['2020-02-30T00:00:00.000Z', uuid]),
      encode(['2020-W01', uuid]),
      encode([8.64e15 + 1, uuid]),
      encode(['2020-01-01T00:00:00.000Z', 'not-a-uuid']),
      encode({ createdAt: '2020-01-01T00:00:00.000Z', id: uuid }),
      '99999999999999999999999',
      '-1',
      '%00',
      '%ED%A0%80',
    ];
    for (const route of listRoutes(doc)) {
      for (const cursor of cursors) await expectRefused(route, `cursor ${cursor}`, 'cursor', { query: `cursor=${cursor}` });
    }
  });

  it('refuses NUL in any query parameter of every list route with a 400 naming it, and never fails on bad escapes', async () => {
    for (const route of listRoutes(doc)) {
      for (const parameter of queryParameters(route)) {
        await expectRefused(route, `${parameter.name}=%00`, parameter.name, { query: `${parameter.name}=a%00b` });
        for (const raw of ['%ED%A0%80', '%FF', '%', '%E4%BD', '%uD800']) {
          const res = await send(route, { query: `${parameter.name}=${raw}` });
          expect(`${route.path} ${parameter.name}=${raw}: ${res.status < 500 ? 'no 5xx' : res.text}`).toBe(
            `${route.path} ${parameter.name}=${raw}: no 5xx`,
          );
          if (res.status >= 400) expectProblem(res, res.status);
        }
      }
    }
  });

  it('refuses date-times outside the years 1000..9999, in queries and bodies', async () => {
    for (const at of ['-9999-01-01T00:00:00Z', '+9999-01-01T00:00:00Z', '0999-12-31T23:59:59Z', '2020-W01']) {
      const q = encodeURIComponent(at);
      expectProblem(await t.http.get(`/v1/audit-events?since=${q}`, t.adminToken), 400, ['since']);
      expectProblem(await t.http.get(`/v1/audit-events?until=${q}`, t.adminToken), 400, ['until']);
      expectProblem(await t.http.get(`/v1/credentials?dueBefore=${q}`, t.adminToken), 400, ['dueBefore']);
      expectProblem(await t.http.post('/v1/campaign-schedules', { name: 's', startsAt: at }, t.adminToken), 400, ['startsAt']);
    }
    expect((await t.http.get('/v1/audit-events?since=1000-01-01T00:00:00Z&until=9999-12-31T23:59:59Z', t.adminToken)).status).toBe(200);
  });

  it('stored nothing, and answered no 500', async () => {
    expect(await settledTableCounts(t.dataSource)).toEqual(before);
    expect(t.logs.lines.filter((line) => /"statusCode":5\d\d/.test(line))).toEqual([]);
  });
});
