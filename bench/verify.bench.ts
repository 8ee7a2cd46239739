/**
 * npm run bench:verify
 *
 * Seeds 100,000 active credentials with known keys (by SQL, in bulk), starts
 * two replicas of the compiled service on them and drives /v1/authz (the
 * forward-auth path: gateway token, key, scope header) as a gateway would:
 *
 * - verify_p99: latency at BENCH_RATE (2,000) calls per second, open loop, over all 100,000 keys;
 * - verify_max_per_s: saturation with BENCH_CONNECTIONS connections (autocannon), rate limiting and usage on;
 * - rss_peak: the replica's peak RSS after every credential has been verified (all cached);
 * - revoke_to_refused_p99: revoke through replica A, poll authz on replica B until refused;
 * - rate_limit_overshoot: a credential limited to 100 per 10 s, 1,000 calls spread over both replicas: allowed − 100;
 * - usage_lost: calls made to replica B − calls in the rollups after B is stopped with SIGTERM.
 *
 * Floors, in the same run, with the same clients: a bare Fastify route in a
 * process of its own that hashes the presented key and looks it up in a Map
 * of the same 100,000 hashes (floor_verify_p99, floor_max_per_s).
 */
import { randomBytes } from 'node:crypto';

import autocannon from 'autocannon';
import { Client } from 'pg';

import { figure, freshDatabase, percentile, startService, steadyLoad } from './support';
import { adminApi, gatewayToken, keepAliveClient, pick, seedKnownKeys, startVerifyFloor, verifyServiceEnv } from './verify-setup';

const CREDENTIALS = Number(process.env.BENCH_CREDENTIALS ?? 100_000);
const RATE = Number(process.env.BENCH_RATE ?? 2_000);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

async function saturate(baseUrl: string, headersFor: () => Record<string, string>): Promise<number> {
  const result = await autocannon({
    url: baseUrl,
    connections: CONNECTIONS,
    duration: DURATION_S,
    requests: [{ setupRequest: (req) => ({ ...req, method: 'GET', path: '/v1/authz', headers: headersFor() }) }],
  });
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${result.non2xx} non-2xx answers and ${result.errors} errors`);
  return result.requests.average;
}

async function main(): Promise<void> {
  const db = await freshDatabase('agc_bench_verify');
  const admin = `agt_bench_${randomBytes(24).toString('hex')}`;
  const { ids, keys, seeded } = await seedKnownKeys(db.url, { credentials: CREDENTIALS, owners: 1_000, agentsPerOwner: 10 });
  figure('seed_credentials', CREDENTIALS, 'rows');
  const pg = new Client({ connectionString: db.url });
  await pg.connect();

  const env = verifyServiceEnv(db.url, admin);
  const a = await startService(env);
  const b = await startService(env);
  const floor = await startVerifyFloor(keys);
  try {
    const api = adminApi(a.baseUrl, admin);
    const token = await gatewayToken(api);
    const headersFor = (key: string) => ({ 'x-gateway-token': token, 'x-api-key': key, 'x-required-scope': 'customers:read' });

    // Every credential verified once on A: all cached.
    const clientA = keepAliveClient(a.baseUrl);
    for (let i = 0; i < keys.length; i += 200) {
      const statuses = await Promise.all(keys.slice(i, i + 200).map((k) => clientA.get('/v1/authz', headersFor(k))));
      if (statuses.some((s) => s !== 200)) throw new Error(`warm-up: ${statuses.find((s) => s !== 200)}`);
    }

    const floorClient = keepAliveClient(floor.baseUrl);
    const floorSteady = await steadyLoad(RATE, DURATION_S, () => floorClient.get('/v1/authz', headersFor(pick(keys))));
    const steady = await steadyLoad(RATE, DURATION_S, () => clientA.get('/v1/authz', headersFor(pick(keys))));
    if (steady.failed || floorSteady.failed) throw new Error(`${steady.failed} service and ${floorSteady.failed} floor calls failed`);
    figure('floor_verify_p50', percentile(floorSteady.latenciesMs, 50), 'ms');
    figure('floor_verify_p99', percentile(floorSteady.latenciesMs, 99), 'ms');
    figure('verify_p50', percentile(steady.latenciesMs, 50), 'ms');
    figure('verify_p99', percentile(steady.latenciesMs, 99), 'ms');
    figure('verify_p99_over_floor', percentile(steady.latenciesMs, 99) - percentile(floorSteady.latenciesMs, 99), 'ms');

    const floorMax = await saturate(floor.baseUrl, () => headersFor(pick(keys)));
    const serviceMax = await saturate(a.baseUrl, () => headersFor(pick(keys)));
    figure('floor_max_per_s', floorMax, '/s');
    figure('verify_max_per_s', serviceMax, '/s');
    figure('verify_max_share_of_floor', (serviceMax / floorMax) * 100, '%');
    figure('rss_peak', a.peakRssMb(), 'MB');

    // Revocation through A, refused by B.
    const clientB = keepAliveClient(b.baseUrl);
    const delays: number[] = [];
    for (let i = 0; i < 30; i++) {
      const index = Math.floor(Math.random() * keys.length);
      if ((await clientB.get('/v1/authz', headersFor(keys[index]))) !== 200) continue;
      const revoked = await api('POST', `/v1/credentials/${ids[index]}/revoke`, { reason: 'bench' });
      if (revoked.status !== 202) throw new Error(`revoke: ${revoked.status}`);
      const returned = performance.now();
      for (;;) {
        const sent = performance.now();
        if ((await clientB.get('/v1/authz', headersFor(keys[index]))) === 401) {
          delays.push(sent - returned);
          break;
        }
        if (sent - returned > 5_000) throw new Error('not refused within 5 s');
      }
    }
    delays.sort((x, y) => x - y);
    figure('revoke_to_refused_p50', percentile(delays, 50), 'ms');
    figure('revoke_to_refused_p99', percentile(delays, 99), 'ms');

    // 100 per 10 s across both replicas.
    const agentId = seeded.agentIds[0];
    const limited = await api('POST', '/v1/credentials', {
      agentId,
      type: 'api_key',
      environment: 'production',
      scopes: ['customers:read'],
      rateLimit: { requests: 100, perSeconds: 10 },
    });
    const limitedKey = limited.body.secret as string;
    let allowed = 0;
    for (let i = 0; i < 1000; i += 50) {
      const statuses = await Promise.all(
        Array.from({ length: 50 }, (_, j) => ((i + j) % 2 ? clientA : clientB).get('/v1/authz', headersFor(limitedKey))),
      );
      allowed += statuses.filter((s) => s === 200).length;
    }
    figure('rate_limit_allowed', allowed, 'calls');
    figure('rate_limit_overshoot', allowed - 100, 'calls');

    // Usage on B, then SIGTERM.
    const counted = await api('POST', '/v1/credentials', {
      agentId,
      type: 'api_key',
      environment: 'production',
      scopes: ['customers:read'],
      rateLimit: { requests: 100000, perSeconds: 60 },
    });
    let made = 0;
    for (let i = 0; i < 20; i++) {
      const statuses = await Promise.all(Array.from({ length: 100 }, () => clientB.get('/v1/authz', headersFor(counted.body.secret))));
      made += statuses.length;
    }
    clientB.close();
    await b.stop();
    const rows = await pg.query('SELECT coalesce(sum(calls), 0)::int AS n FROM usage_hourly WHERE credential_id = $1', [
      counted.body.credential.id,
    ]);
    figure('usage_calls_made', made, 'calls');
    figure('usage_lost', made - rows.rows[0].n, 'calls');
    clientA.close();
    floorClient.close();
  } finally {
    floor.stop();
    await a.stop();
    await b.stop();
    await pg.end();
    await db.drop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:verify failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
