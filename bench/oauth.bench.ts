/**
 * `npm run bench:oauth`: the OAuth token and introspection endpoints of the compiled service (ROLES=api,
 * NODE_ENV=production) on a fresh database, against the floor measured in the same run: signing the same
 * access token with jose (ES256) in a loop in this process, one signature after another.
 *
 * Figures: floor_signatures_per_s; tokens_per_s through POST /oauth/token with client_secret_basic
 * (autocannon, BENCH_CONNECTIONS connections, BENCH_DURATION_S seconds) and its ratio to the floor
 * (target ≥ 40 %); token_p50/p99 at a steady 200 tokens/s (target p99 ≤ 10 ms); introspect_p50/p99 at a
 * steady 200/s with an admin bearer token (target p99 ≤ 5 ms).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';

import autocannon from 'autocannon';
import { generateKeyPair, SignJWT } from 'jose';

import { cpuDelta, figure, freshDatabase, percentile, sampleCpu, serviceEnv, startService, steadyLoad } from './support';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const STEADY_RATE = Number(process.env.BENCH_STEADY_RATE ?? 200);
const FLOOR_S = 3;

async function json(baseUrl: string, method: string, path: string, token: string, body?: unknown): Promise<any> {
  const r = await fetch(baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** POSTs a form over kept-alive connections; resolves with the status once the body is read. */
function formPoster(baseUrl: string) {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  return {
    post(path: string, body: string, headers: Record<string, string>): Promise<number> {
      return new Promise((resolve, reject) => {
        const req = request(
          {
            host: url.hostname,
            port: url.port,
            path,
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), ...headers },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

/** The floor: the same claims signed ES256 with jose, one after another, in this process. */
async function signingFloor(): Promise<{ perSecond: number; p99Ms: number }> {
  const { privateKey } = await generateKeyPair('ES256');
  const sign = () =>
    new SignJWT({ client_id: 'agc_0123456789abcdef0123456789abcdef', scope: 'orders:read orders:write', credential_id: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'bench' })
      .setIssuer('http://127.0.0.1:3000')
      .setSubject(randomUUID())
      .setAudience('http://127.0.0.1:3000')
      .setIssuedAt()
      .setExpirationTime('10m')
      .setJti(randomUUID())
      .sign(privateKey);
  for (let i = 0; i < 2000; i++) await sign();
  const durations: number[] = [];
  const started = performance.now();
  while (performance.now() - started < FLOOR_S * 1000) {
    const t0 = performance.now();
    await sign();
    durations.push(performance.now() - t0);
  }
  durations.sort((a, b) => a - b);
  return { perSecond: durations.length / ((performance.now() - started) / 1000), p99Ms: percentile(durations, 99) };
}

async function main(): Promise<void> {
  const floor = await signingFloor();
  figure('floor_signatures_per_s', floor.perSecond, '/s');
  figure('floor_sign_p99', floor.p99Ms, 'ms');

  const db = await freshDatabase('agc_bench_oauth');
  const adminToken = `agt_bench_${randomBytes(24).toString('hex')}`;
  const service = await startService(serviceEnv(db.url, adminToken, { ROLES: 'api' }));
  const poster = formPoster(service.baseUrl);
  try {
    const base = service.baseUrl;
    const owner = await json(base, 'POST', '/v1/owners', adminToken, { name: 'bench', email: 'bench@example.com', kind: 'team' });
    const product = await json(base, 'POST', '/v1/products', adminToken, { name: 'orders', operations: ['read', 'write'] });
    const agent = await json(base, 'POST', '/v1/agents', adminToken, { name: 'bench-agent', ownerId: owner.id });
    const issued = await json(base, 'POST', '/v1/credentials', adminToken, {
      agentId: agent.id,
      type: 'oauth_client',
      environment: 'production',
      scopes: [`${product.name}:read`, `${product.name}:write`],
      rateLimit: { requests: 100000, perSeconds: 1 },
    });
    const basicHeader = `Basic ${Buffer.from(`${issued.credential.clientId}:${issued.secret}`).toString('base64')}`;
    const tokenBody = 'grant_type=client_credentials';

    // Throughput: as many token requests as the service answers, over CONNECTIONS kept-alive connections.
    const throughput = async () =>
      autocannon({
        url: `${base}/oauth/token`,
        method: 'POST',
        connections: CONNECTIONS,
        duration: DURATION_S,
        headers: { authorization: basicHeader, 'content-type': 'application/x-www-form-urlencoded' },
        body: tokenBody,
      });
    await throughput(); // warm-up: JIT, connection pool, prepared statements
    const result = await throughput();
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx answers and ${result.errors} errors`);
    const tokensPerS = result.requests.total / DURATION_S;
    figure('tokens_per_s', tokensPerS, '/s');
    figure('tokens_vs_floor', (tokensPerS / floor.perSecond) * 100, '%');

    // Latency at a steady rate, and the CPU each request costs the service and Postgres.
    const pids = [service.child.pid!];
    let before = sampleCpu(pids);
    const steady = await steadyLoad(STEADY_RATE, DURATION_S, () => poster.post('/oauth/token', tokenBody, { authorization: basicHeader }));
    if (steady.failed > 0) throw new Error(`${steady.failed} of ${steady.sent} token requests failed`);
    figure('token_rate', STEADY_RATE, '/s');
    figure('token_p50', percentile(steady.latenciesMs, 50), 'ms');
    figure('token_p99', percentile(steady.latenciesMs, 99), 'ms');
    let cpu = cpuDelta(before, sampleCpu(pids));
    figure('token_cpu_per_request_service', (cpu.service * 1000) / steady.sent, 'ms');
    figure('token_cpu_per_request_postgres', (cpu.postgres * 1000) / steady.sent, 'ms');
    figure('token_machine_busy', (cpu.machineBusy / cpu.machineTotal) * 100, '%');

    const token = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: { authorization: basicHeader, 'content-type': 'application/x-www-form-urlencoded' },
      body: tokenBody,
    }).then((r) => r.json() as Promise<{ access_token: string }>);
    const introspectBody = `token=${token.access_token}`;
    const introspectHeaders = { authorization: `Bearer ${adminToken}` };
    await steadyLoad(STEADY_RATE, 2, () => poster.post('/oauth/introspect', introspectBody, introspectHeaders));
    before = sampleCpu(pids);
    const introspect = await steadyLoad(STEADY_RATE, DURATION_S, () => poster.post('/oauth/introspect', introspectBody, introspectHeaders));
    if (introspect.failed > 0) throw new Error(`${introspect.failed} of ${introspect.sent} introspections failed`);
    figure('introspect_rate', STEADY_RATE, '/s');
    figure('introspect_p50', percentile(introspect.latenciesMs, 50), 'ms');
    figure('introspect_p99', percentile(introspect.latenciesMs, 99), 'ms');
    cpu = cpuDelta(before, sampleCpu(pids));
    figure('introspect_cpu_per_request_service', (cpu.service * 1000) / introspect.sent, 'ms');
    figure('introspect_cpu_per_request_postgres', (cpu.postgres * 1000) / introspect.sent, 'ms');
    figure('introspect_machine_busy', (cpu.machineBusy / cpu.machineTotal) * 100, '%');
  } finally {
    poster.close();
    await service.stop();
    await db.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
