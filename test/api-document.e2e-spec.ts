import { randomUUID } from 'node:crypto';

import type { RouteOptions } from 'fastify';

import { buildOfflineApiDocument } from '../scripts/openapi-document';
import { startTestApp, TestApp } from './support/test-app';

interface Operation {
  operationId?: string;
  summary?: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ in: string; name: string }>;
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }>; headers?: Record<string, { $ref?: string }> }>;
}

type Paths = Record<string, Record<string, Operation>>;

/**
 * Swagger UI and the document itself, the console's pages and files, and the
 * queue dashboard (src/console/console-http.ts): served, but not operations of the API.
 */
const DOCS = /^\/(docs($|[/-])|console($|\/(\*|assets\/))|admin\/queues($|\/))/;

/** `/v1/campaigns/:id/items/:itemId` → `/v1/campaigns/{id}/items/{itemId}`. */
/** Fastify's `:id` is OpenAPI's `{id}`; a trailing wildcard `*` is `{path}` (as @nestjs/swagger writes it). */
function openApiPath(fastifyUrl: string): string {
  return fastifyUrl.replace(/:(\w+)/g, '{$1}').replace(/\/\*$/, '/{path}');
}

/** A trailing wildcard (`/v1/authz/{path}`) takes any path: it has no 400 or 404 of its own. */
const WILDCARD = /\/\{path\}$/;

describe('the OpenAPI document', () => {
  let t: TestApp;
  const served = new Set<string>();
  let paths: Paths;
  let document: Record<string, any>;

  beforeAll(async () => {
    t = await startTestApp({
      // Every route Fastify registers, as it registers it: the routes the app really serves.
      beforeListen: (app) =>
        app
          .getHttpAdapter()
          .getInstance()
          .addHook('onRoute', (route: RouteOptions) => {
            for (const method of [route.method].flat()) {
              // HEAD (Fastify answers it for every GET) and OPTIONS are not operations of their own.
              if (method === 'HEAD' || method === 'OPTIONS' || DOCS.test(route.url)) continue;
              served.add(`${method} ${openApiPath(route.url)}`);
            }
          }),
    });
    const res = await t.http.get('/docs-json');
    expect(res.status).toBe(200);
    document = res.body;
    paths = document.paths;
  });
  afterAll(() => t.close());

  const operations = (): Array<{ key: string; path: string; method: string; operation: Operation }> =>
    Object.entries(paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({ key: `${method.toUpperCase()} ${path}`, path, method, operation })),
    );

  it('documents exactly the routes the app serves', () => {
    const documented = new Set(operations().map((o) => o.key));
    expect(served.size).toBeGreaterThan(40);
    expect({
      servedButUndocumented: [...served].filter((route) => !documented.has(route)).sort(),
      documentedButNotServed: [...documented].filter((route) => !served.has(route)).sort(),
    }).toEqual({ servedButUndocumented: [], documentedButNotServed: [] });
  });

  it('is the document `npm run lint:openapi` lints, built without a database', async () => {
    expect(await buildOfflineApiDocument()).toEqual(document);
  });

  it('names every operation with a unique, readable operationId and a summary', () => {
    const ids = operations().map((o) => o.operation.operationId);
    for (const { key, operation } of operations()) {
      expect([key, operation.operationId]).toEqual([key, expect.stringMatching(/^[a-z][a-zA-Z]+$/)]);
      expect([key, operation.summary]).toEqual([key, expect.stringMatching(/\S/)]);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("documents each operation's error answers from its inputs, as problem+json of the one Problem schema, and x-request-id on every answer", () => {
    for (const { key, path, operation } of operations()) {
      const statuses = Object.keys(operation.responses);
      const expected: string[] = [];
      if (operation.security?.length) expected.push('401', '503');
      if (/\{\w+\}/.test(path.replace(WILDCARD, ''))) expected.push('400', '404');
      if (operation.parameters?.some((p) => p.in === 'query')) expected.push('400');
      if (operation.requestBody) expected.push('400', '413', '415');
      expect([key, statuses]).toEqual([key, expect.arrayContaining(expected)]);
      for (const [status, response] of Object.entries(operation.responses)) {
        expect([key, status, response.headers?.['x-request-id']]).toEqual([key, status, { $ref: '#/components/headers/RequestId' }]);
        if (!/^[45]/.test(status) || key === 'GET /health/ready') continue;
        // The OAuth endpoints answer their own errors as RFC 6749 §5.2 JSON, which OAuth clients parse.
        if (path.startsWith('/oauth/') && ['400', '401'].includes(status)) {
          expect([key, status, response.content]).toEqual([
            key,
            status,
            { 'application/json': { schema: { $ref: '#/components/schemas/OAuthErrorDto' } } },
          ]);
          continue;
        }
        expect([key, status, response.content]).toEqual([
          key,
          status,
          { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
        ]);
      }
    }
  });

  it('says which operations need a bearer token, as the app enforces it', async () => {
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const problem = document.components.schemas.Problem;
    for (const { key, path, method, operation } of operations()) {
      // A bearer token, the console's session cookie (GET and DELETE /console/session), or (forward-auth, /v1/authz)
      // the gateway's token in X-Gateway-Token.
      const needsToken =
        operation.security?.some(
          (requirement) => 'bearer' in requirement || 'consoleSession' in requirement || 'gatewayToken' in requirement,
        ) ?? false;
      // GitHub's secret scanning alerts are signed instead (src/leaks); the route is off here (no keys file): 404.
      const signedByGithub = operation.security?.some((requirement) => 'githubSignature' in requirement) ?? false;
      // Without a token: a route that needs one refuses before it reads anything (ids need not exist).
      const res = await t.http.request(
        method.toUpperCase(),
        path.replace(/\{\w+\}/g, () => randomUUID()),
      );
      expect([key, res.headers.get('x-request-id')]).toEqual([key, expect.stringMatching(/\S/)]);
      if (signedByGithub) {
        expect([key, res.status, res.body.code]).toEqual([key, 404, 'GITHUB_SECRET_SCANNING_OFF']);
      } else if (path.startsWith('/oauth/')) {
        // No API token: the OAuth endpoints authenticate the client from the form, and refuse a request without one (RFC 6749 §5.2).
        expect([key, operation.security]).toEqual([key, []]);
        expect([key, res.status, res.body.error]).toEqual([key, 400, 'invalid_request']);
      } else if (needsToken) {
        expect([key, res.status]).toEqual([key, 401]);
        expect(Object.keys(res.body)).toEqual(expect.arrayContaining(problem.required));
      } else {
        expect([key, operation.security]).toEqual([key, []]);
        // Console sign-in takes its token in the body: without one it is bad input, not an unauthenticated call.
        expect([key, res.status]).toEqual([key, key === 'POST /console/session' ? 400 : 200]);
      }
    }
  });
});
