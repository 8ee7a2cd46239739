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
 *
 * BENCH_MODE=saturate measures what bench/verify.bench.ts's verify_max_per_s does instead, at the same moment
 * for every build: BENCH_ROUNDS times, each target in turn (the floor first and last, the builds in a rotating
 * order) is driven on GET /v1/authz by
 * autocannon with BENCH_CONNECTIONS (10) connections for BENCH_DURATION_S, closed loop; prints calls per
 * second, the share of the floor's rate in the same round, and the service's (and Redis's) CPU per call.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';

import autocannon from 'autocannon';

import { cpuDelta, freshDatabase, sampleCpu, type Service, startService, steadyLoad } from './support';
import { adminApi, gatewayToken, keepAliveClient, pick, seedKnownKeys, startVerifyFloor, verifyServiceEnv } from './verify-setup';

const CREDENTIALS = Number(process.env.BENCH_CREDENTIALS ?? 5_000);
const RATE = Number(process.env.BENCH_RATE ?? 1_000);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SATURATE = process.env.BENCH_MODE === 'saturate';

async function main(): Promise<void> {
  const builds = [join(__dirname, '..', 'dist', 'src', 'main.js'), ...process.argv.slice(2).map((p) => resolve(p))];
  const db = await freshDatabase('agc_bench_verify_cpu');
  const admin = `agt_bench_${randomBytes(24).toString('hex')}`;
  const { keys } = await seedKnownKeys(db.url, { credentials: CREDENTIALS, owners: 100, agentsPerOwner: 10 });
  const env = verifyServiceEnv(db.url, admin);
  const services: Service[] = [];
  for (const build of builds) services.push(await startService(env, build));
  const floor = await startVerifyFloor(keys);
  try {
    const token = await gatewayToken(adminApi(services[0].baseUrl, admin));
    const authzHeaders = (key: string) => ({ 'x-gateway-token': token, 'x-api-key': key, 'x-required-scope': 'customers:read' });
    const verifyHeaders = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const verifyBody = (key: string) => JSON.stringify({ key, scope: 'customers:read', ip: '10.1.2.3' });

    const targets = [
      ...services.map((s, i) => ({
        name: i === 0 ? 'this build' : `build ${i}`,
        baseUrl: s.baseUrl,
        pid: s.child.pid!,
        call: keepAliveClient(s.baseUrl).call,
        verify: true,
      })),
      { name: 'floor', baseUrl: floor.baseUrl, pid: floor.pid, call: keepAliveClient(floor.baseUrl).call, verify: false },
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
    if (SATURATE) {
      console.log(
        `builds: ${builds.join(', ')}; ${CREDENTIALS} credentials, saturation, ${CONNECTIONS} connections, ${DURATION_S} s per run`,
      );
      for (let round = 1; round <= ROUNDS; round++) {
        const rates = new Map<string, number>();
        // The floor first and last of each round, so each build's share is against the floor of its moment;
        // the builds in a different order each round (the first one after the floor is not always the same).
        const builds = targets.slice(0, -1);
        const order = [...builds.slice((round - 1) % builds.length), ...builds.slice(0, (round - 1) % builds.length)];
        for (const target of [targets[targets.length - 1], ...order, targets[targets.length - 1]]) {
          const before = sampleCpu([target.pid]);
          const load = loadavg()[0];
          const result = await autocannon({
            url: target.baseUrl,
            connections: CONNECTIONS,
            duration: DURATION_S,
            requests: [{ setupRequest: (req) => ({ ...req, method: 'GET', path: '/v1/authz', headers: authzHeaders(pick(keys)) }) }],
          });
          const cpu = cpuDelta(before, sampleCpu([target.pid]));
          const calls = result.requests.total;
          const floorRate = rates.get('floor');
          rates.set(target.name, result.requests.average);
          const share = target.verify && floorRate ? `  share ${((result.requests.average / floorRate) * 100).toFixed(1)} %` : '';
          console.log(
            `round ${round} saturate ${target.name.padEnd(10)} ${result.requests.average.toFixed(0).padStart(6)}/s${share}` +
              `  cpu/call ${((cpu.service * 1e6) / calls).toFixed(0).padStart(4)} µs  redis/call ${((cpu.redis * 1e6) / calls).toFixed(0).padStart(3)} µs` +
              `  machine busy ${((cpu.machineBusy / cpu.machineTotal) * 100).toFixed(0)} %  load ${load.toFixed(2)}` +
              (result.errors || result.non2xx ? `  FAILED ${result.errors} errors, ${result.non2xx} non-2xx` : ''),
          );
        }
      }
      return;
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
