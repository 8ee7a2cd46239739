/**
 * What bench/verify.bench.ts and bench/verify-cpu.ts share: credentials with
 * known keys, the service's environment, a gateway token, the bare Fastify
 * floor, and a kept-alive HTTP client.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client } from 'pg';

import { formatSecret } from '../src/inventory/credential-secret';
import { seedInventory, serviceEnv, startScriptServerPublic } from './support';

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
export const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)];

/**
 * Seeds `credentials` credentials and gives each a known key (its SHA-256 stored): production, no allowlist,
 * scope customers:read, a limit the load never reaches. Answers the ids (ordered) and their keys, and the seed.
 */
export async function seedKnownKeys(
  databaseUrl: string,
  shape: { credentials: number; owners: number; agentsPerOwner: number },
): Promise<{ ids: string[]; keys: string[]; seeded: Awaited<ReturnType<typeof seedInventory>> }> {
  const seeded = await seedInventory(databaseUrl, shape);
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  try {
    const ids: string[] = (await pg.query('SELECT id FROM credentials ORDER BY id')).rows.map((r) => r.id);
    const keys = ids.map(() => formatSecret('production', randomBytes(32)));
    await pg.query(
      `UPDATE credentials c SET secret_sha256 = u.sha, environment = 'production', ip_allowlist = '{}', scopes = ARRAY['customers:read'],
              rate_limit_requests = 100000, rate_limit_per_seconds = 60
         FROM unnest($1::uuid[], $2::text[]) AS u(id, sha) WHERE c.id = u.id`,
      [ids, keys.map(sha256)],
    );
    await pg.query('VACUUM ANALYZE credentials');
    return { ids, keys, seeded };
  } finally {
    await pg.end();
  }
}

/** An API-only replica's environment on `databaseUrl`, with `admin` as its admin token. */
export function verifyServiceEnv(databaseUrl: string, admin: string): Record<string, string> {
  return serviceEnv(databaseUrl, admin, { ROLES: 'api', LOG_LEVEL: 'warn' });
}

/** The admin API of the replica at `baseUrl`: JSON in, status and JSON body out. */
export function adminApi(baseUrl: string, admin: string) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const r = await fetch(baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as any };
  };
}

/** A gateway serving production, and a gateway token bound to it. */
export async function gatewayToken(api: ReturnType<typeof adminApi>): Promise<string> {
  const gateway = await api('POST', '/v1/gateways', { name: 'bench', url: 'http://127.0.0.1:9/hook', environments: ['production'] });
  return (await api('POST', '/v1/tokens', { name: 'bench-gw', role: 'gateway', gatewayId: gateway.body.gateway.id })).body.token as string;
}

/** The floor: a bare Fastify GET /v1/authz in its own process that hashes the key and looks it up in a Map of the same keys. */
export function startVerifyFloor(keys: string[]) {
  const hashesFile = join(tmpdir(), `agc-verify-floor-${randomBytes(4).toString('hex')}.json`);
  writeFileSync(hashesFile, JSON.stringify(keys.map(sha256)));
  return startScriptServerPublic(
    `
    const { createHash } = require('node:crypto');
    const hashes = JSON.parse(require('node:fs').readFileSync(process.env.HASHES, 'utf8'));
    const map = new Map(hashes.map((h, i) => [h, { id: String(i), scopes: ['customers:read'] }]));
    const app = require('fastify')();
    app.get('/v1/authz', async (req, reply) => {
      const key = req.headers['x-api-key'] ?? '';
      const found = map.get(createHash('sha256').update(key).digest('hex'));
      reply.code(found ? 200 : 401).header('x-agent-id', found ? found.id : '').send();
    });
    app.listen({ port: 0, host: '127.0.0.1' }).then(() => process.stdout.write(String(app.server.address().port) + '\\n'));
    `,
    { HASHES: hashesFile, PATH: process.env.PATH! },
  );
}

/** One HTTP client for the service and the floor: kept-alive node:http calls with per-call headers; answers the status. */
export function keepAliveClient(baseUrl: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const url = new URL(baseUrl);
  const call = (method: string, path: string, headers: Record<string, string>, body?: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, path, method, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body);
    });
  return { call, get: (path: string, headers: Record<string, string>) => call('GET', path, headers), close: () => agent.destroy() };
}
