/**
 * npm run build && ts-node --transpile-only bench/verify-cpu.ts [other-build/dist/src/main.js ...]
 *
 * The service CPU one verification costs, for comparing builds at the same
 * moment: seeds BENCH_CREDENTIALS (5,000) credentials with known keys, starts
 * one replica of this checkout's build (dist/) and one of each build named on
 * the command line, all on the same database, plus the bare Fastify floor of
 * bench/verify.bench.ts, and then, BENCH_ROUNDS (2) times, drives each in turn
 * (A, B, A, B) at BENCH_RATE (1,000) calls per second, open loop, for
 * BENCH_DURATION_S (8) seconds, on GET /v1/authz and on POST /v1/verify. Prints
 * the service's CPU (user + system, from /proc) per call of each run, and the
 * load average. BENCH_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`)
 * goes to every replica.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { Client } from 'pg';

import { formatSecret } from '../src/inventory/credential-secret';
import {
  cpuDelta,
  freshDatabase,
  REDIS_URL,
  sampleCpu,
  seedInventory,
  type Service,
  startScriptServerPublic,
  startService,
  steadyLoad,
} from './support';

const CREDENTIALS = Number(process.env.BENCH_CREDENTIALS ?? 5_000);
const RATE = Number(process.env.BENCH_RATE ?? 1_000);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)];

/** Kept-alive node:http calls, as bench/verify.bench.ts makes them. */
function client(baseUrl: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const url = new URL(baseUrl);
  return (method: string, path: string, headers: Record<string, string>, body?: string): Promise<number> =>
    new Promise((done, fail) => {
      const req = http.request({ host: url.hostname, port: url.port, path, method, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0));
      });
      req.on('error', fail);
      req.end(body);
    });
}

async function main(): Promise<void> {
  const builds = [join(__dirname, '..', 'dist', 'src', 'main.js'), ...process.argv.slice(2).map((p) => resolve(p))];
  const db = await freshDatabase('agc_bench_verify_cpu');
  const admin = `agt_bench_${randomBytes(24).toString('hex')}`;
  await seedInventory(db.url, { credentials: CREDENTIALS, owners: 100, agentsPerOwner: 10 });
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  const ids: string[] = (await pg.query('SELECT id FROM credentials ORDER BY id')).rows.map((r) => r.id);
  const keys = ids.map(() => formatSecret('production', randomBytes(32)));
  await pg.query(
    `UPDATE credentials c SET secret_sha256 = u.sha, environment = 'production', ip_allowlist = '{}', scopes = ARRAY['customers:read'],
            rate_limit_requests = 100000, rate_limit_per_seconds = 60
       FROM unnest($1::uuid[], $2::text[]) AS u(id, sha) WHERE c.id = u.id`,
    [ids, keys.map(sha256)],
  );
  await pg.query('VACUUM ANALYZE credentials');
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL,
    REDIS_PREFIX: `bench_${randomBytes(4).toString('hex')}`,
    ADMIN_TOKEN: admin,
    LOCAL_STORE_KEY: randomBytes(32).toString('base64'),
    ROLES: 'api',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
  };
  const services: Service[] = [];
  for (const build of builds) services.push(await startService(env, build));
  const hashesFile = join(tmpdir(), `agc-verify-cpu-floor-${randomBytes(4).toString('hex')}.json`);
  writeFileSync(hashesFile, JSON.stringify(keys.map(sha256)));
  const floor = await startScriptServerPublic(
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
  try {
    const api = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(services[0].baseUrl + path, {
        method,
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json()) as any };
    };
    const gateway = await api('POST', '/v1/gateways', { name: 'bench', url: 'http://127.0.0.1:9/hook', environments: ['production'] });
    const token = (await api('POST', '/v1/tokens', { name: 'bench-gw', role: 'gateway', gatewayId: gateway.body.gateway.id })).body
      .token as string;
    const authzHeaders = (key: string) => ({ 'x-gateway-token': token, 'x-api-key': key, 'x-required-scope': 'customers:read' });
    const verifyHeaders = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const verifyBody = (key: string) => JSON.stringify({ key, scope: 'customers:read', ip: '10.1.2.3' });

    const targets = [
      ...services.map((s, i) => ({
        name: i === 0 ? 'this build' : `build ${i}`,
        pid: s.child.pid!,
        call: client(s.baseUrl),
        verify: true,
      })),
      { name: 'floor', pid: floor.pid, call: client(floor.baseUrl), verify: false },
    ];
    // Every key once on every replica (all cached), and the JIT warmed on both routes.
    for (const target of targets) {
      for (let i = 0; i < keys.length; i += 100) {
        const statuses = await Promise.all(
          keys
            .slice(i, i + 100)
            .map((k, j) =>
              target.verify && j % 2
                ? target.call('POST', '/v1/verify', verifyHeaders, verifyBody(k))
                : target.call('GET', '/v1/authz', authzHeaders(k)),
            ),
        );
        if (statuses.some((s) => s !== 200)) throw new Error(`${target.name} warm-up: ${statuses.find((s) => s !== 200)}`);
      }
    }
    console.log(`builds: ${builds.join(', ')}; ${CREDENTIALS} credentials, ${RATE}/s for ${DURATION_S} s per run`);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const route of ['authz', 'verify'] as const) {
        for (const target of targets) {
          if (route === 'verify' && !target.verify) continue;
          const before = sampleCpu([target.pid]);
          const load = loadavg()[0];
          const run = await steadyLoad(RATE, DURATION_S, () =>
            route === 'authz'
              ? target.call('GET', '/v1/authz', authzHeaders(pick(keys)))
              : target.call('POST', '/v1/verify', verifyHeaders, verifyBody(pick(keys))),
          );
          const cpu = cpuDelta(before, sampleCpu([target.pid]));
          const p50 = run.latenciesMs[Math.floor(run.latenciesMs.length / 2)];
          console.log(
            `round ${round} ${route.padEnd(6)} ${target.name.padEnd(10)} cpu/call ${((cpu.service * 1e6) / run.sent).toFixed(0).padStart(4)} µs` +
              `  redis/call ${((cpu.redis * 1e6) / run.sent).toFixed(0).padStart(3)} µs  p50 ${p50.toFixed(2)} ms  load ${load.toFixed(2)}` +
              (run.failed ? `  FAILED ${run.failed}` : ''),
          );
        }
      }
    }
  } finally {
    floor.stop();
    for (const s of services) await s.stop();
    await pg.end();
    await db.drop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`verify-cpu failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
