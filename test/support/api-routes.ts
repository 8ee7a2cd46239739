import { randomUUID } from 'node:crypto';

import type { Http } from './http';

/** A JSON schema as the OpenAPI document writes it (only what the tests read). */
export interface Schema {
  $ref?: string;
  allOf?: Schema[];
  type?: string;
  format?: string;
  enum?: unknown[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  pattern?: string;
  example?: unknown;
}

export interface ApiParameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema?: Schema;
}

/** One operation of the OpenAPI document the app serves at /docs-json. */
export interface ApiRoute {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** As documented: `/v1/owners/{id}`. */
  path: string;
  parameters: ApiParameter[];
  /** The request body's schema, resolved; undefined when the route takes no body. */
  body?: Schema;
}

export interface ApiDocument {
  routes: ApiRoute[];
  resolve(schema: Schema | undefined): Schema | undefined;
}

/**
 * Every route of the app, read from its own OpenAPI document: a new route is
 * covered by the tests that iterate these without being listed anywhere.
 */
export async function apiDocument(http: Http): Promise<ApiDocument> {
  const res = await http.get('/docs-json');
  if (res.status !== 200) throw new Error(`/docs-json: ${res.status}`);
  const doc = res.body as {
    paths: Record<string, Record<string, { parameters?: ApiParameter[]; requestBody?: { content: Record<string, { schema: Schema }> } }>>;
    components: { schemas: Record<string, Schema> };
  };
  const resolve = (schema: Schema | undefined, depth = 0): Schema | undefined => {
    if (!schema || depth > 10) return schema;
    if (schema.$ref) return resolve(doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')], depth + 1);
    if (schema.allOf?.length === 1) return resolve({ ...schema.allOf[0], ...omit(schema, 'allOf') }, depth + 1);
    return schema;
  };
  const routes: ApiRoute[] = [];
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      routes.push({
        method: method.toUpperCase() as ApiRoute['method'],
        path,
        parameters: operation.parameters ?? [],
        body: resolve(operation.requestBody?.content['application/json']?.schema),
      });
    }
  }
  return { routes, resolve };
}

function omit<T extends object>(value: T, key: keyof T): Partial<T> {
  const copy = { ...value };
  delete copy[key];
  return copy;
}

/** Routes that change state: every method but GET. */
export function writeRoutes(doc: ApiDocument): ApiRoute[] {
  return doc.routes.filter((r) => r.method !== 'GET');
}

/** Routes that page through a list: GETs taking `?cursor`. */
export function listRoutes(doc: ApiDocument): ApiRoute[] {
  return doc.routes.filter((r) => r.method === 'GET' && r.parameters.some((p) => p.in === 'query' && p.name === 'cursor'));
}

/**
 * A concrete path: each `{param}` is the id of the resource named just before
 * it (`/v1/campaigns/{id}/items/{itemId}` → ids.campaigns, ids.items), or a
 * fresh UUID for a resource the caller has none of.
 */
export function fillPath(path: string, ids: Record<string, string>): string {
  const segments = path.split('/');
  return segments
    .map((segment, i) => {
      const param = /^\{(\w+)\}$/.exec(segment)?.[1];
      if (!param) return segment;
      const resource = param === 'id' ? segments[i - 1] : param.replace(/Id$/, 's');
      return ids[resource] ?? randomUUID();
    })
    .join('/');
}

/** The query parameters of a route. */
export function queryParameters(route: ApiRoute): ApiParameter[] {
  return route.parameters.filter((p) => p.in === 'query');
}
