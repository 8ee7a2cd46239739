/**
 * npm run bench:inventory
 *
 * Seeds 100,000 credentials in bulk, starts the compiled service against them
 * and drives it over HTTP, authenticated with an admin API token stored
 * (hashed) in the database, as real clients are:
 *
 * - latency (p50/p99) of the owner-filtered list and of a single get at a
 *   steady offered load (requests evenly spaced at BENCH_LIST_RATE and
 *   BENCH_GET_RATE per second, open loop, sent by KeptAliveGetter),
 * - the most each sustains with 10 connections kept busy by autocannon (`*_max_per_s`),
 * - issuance throughput with 10 connections kept busy by autocannon,
 * - the service's peak RSS over the whole run,
 * - floors: the same steady loads against a bare node:http server answering
 *   the same bytes from a process of its own (`floor_*`), and the GET's load
 *   against a bare server that makes the GET's two round trips to Postgres
 *   (`floor_db_*`), measured in the same run.
 */
import { randomBytes } from 'node:crypto';

import autocannon from 'autocannon';

import { KeptAliveGetter } from './kept-alive-getter';
import {
  cpuDelta,
  figure,
  freshDatabase,
  percentile,
  runMain,
  sampleCpu,
  seedInventory,
  serviceEnv,
  startBareDbServer,
  startBareServer,
  startService,
  steadyLoad,
} from './support';

const CREDENTIALS = Number(process.env.BENCH_CREDENTIALS ?? 100_000);
const OWNERS = 1_000;
const AGENTS_PER_OWNER = 10;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const LIST_RATE = Number(process.env.BENCH_LIST_RATE ?? 100);
const GET_RATE = Number(process.env.BENCH_GET_RATE ?? 200);

function pick<T>(items: T[]): T {
  return items[Math.floor(Math.random() * items.length)];
}

async function load(
  baseUrl: string,
  token: string,
  request: () => { method: 'GET' | 'POST'; path: string; body?: string },
): Promise<autocannon.Result> {
  const result = await autocannon({
    url: baseUrl,
    connections: CONNECTIONS,
    duration: DURATION_S,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (req) => {
          const next = request();
          return { ...req, method: next.method, path: next.path, body: next.body };
        },
      },
    ],
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${result.non2xx} non-2xx answers and ${result.errors} errors during the run`);
  }
  return result;
}

async function main(): Promise<void> {
  const db = await freshDatabase('agc_bench_inv');
  const bootstrapToken = `agt_bench_${randomBytes(24).toString('hex')}`;
  const started = Date.now();
  const data = await seedInventory(db.url, { credentials: CREDENTIALS, owners: OWNERS, agentsPerOwner: AGENTS_PER_OWNER });
  figure('seed_credentials', CREDENTIALS, 'rows');
  figure('seed_s', (Date.now() - started) / 1000, 's');

  const service = await startService(serviceEnv(db.url, bootstrapToken, { ROLES: 'api' }));
  try {
    const created = await fetch(`${service.baseUrl}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bootstrapToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', role: 'admin' }),
    });
    if (created.status !== 201) throw new Error(`could not create the bench token: ${created.status}`);
    const token = ((await created.json()) as { token: string }).token;

    const listRequest = () => ({ method: 'GET' as const, path: `/v1/credentials?ownerId=${pick(data.ownerIds)}&limit=50` });
    const getRequest = () => ({ method: 'GET' as const, path: `/v1/credentials/${pick(data.credentialIds)}` });

    const headers = { authorization: `Bearer ${token}` };
    const client = new KeptAliveGetter(service.baseUrl, headers);
    const steady = async (name: string, rate: number, path: () => string) => {
      const before = sampleCpu([service.child.pid!]);
      const result = await steadyLoad(rate, DURATION_S, () => client.get(path()));
      const cpu = cpuDelta(before, sampleCpu([service.child.pid!]));
      if (result.failed > 0) throw new Error(`${result.failed} of ${result.sent} ${name} requests failed`);
      figure(`${name}_rate`, rate, '/s');
      figure(`${name}_p50`, percentile(result.latenciesMs, 50), 'ms');
      figure(`${name}_p99`, percentile(result.latenciesMs, 99), 'ms');
      // Where the machine's CPU went during the phase, per request, and what the
      // kernel's memory monitor took, in bursts, from the same two cores.
      for (const part of ['service', 'postgres', 'bench'] as const) {
        figure(`${name}_cpu_per_request_${part}`, (cpu[part] * 1000) / result.sent, 'ms');
      }
      figure(`${name}_machine_busy`, (cpu.machineBusy / cpu.machineTotal) * 100, '%');
      figure(`${name}_kdamond_cpu`, cpu.kdamond * 1000, 'ms');
    };

    // The floor: a bare node:http server in a process of its own, answering the
    // same bytes at the same rates, shows what this machine adds by itself.
    const sampleList = await (await fetch(service.baseUrl + listRequest().path, { headers })).text();
    const sampleGet = await (await fetch(service.baseUrl + getRequest().path, { headers })).text();
    const floor = await startBareServer({ '/list': sampleList, '/get': sampleGet });
    const floorClient = new KeptAliveGetter(floor.baseUrl);
    try {
      for (const [name, rate] of [
        ['list', LIST_RATE],
        ['get', GET_RATE],
      ] as const) {
        const result = await steadyLoad(rate, DURATION_S, () => floorClient.get(`/${name}`));
        if (result.failed > 0) throw new Error(`${result.failed} of ${result.sent} floor ${name} requests failed`);
        figure(`floor_${name}_p50`, percentile(result.latenciesMs, 50), 'ms');
        figure(`floor_${name}_p99`, percentile(result.latenciesMs, 99), 'ms');
      }
    } finally {
      floorClient.close();
      floor.stop();
    }

    // The database floor: a bare server making the GET's two round trips to
    // Postgres (token, then credential) with the same statements, at the same rate.
    const dbFloor = await startBareDbServer(db.url);
    const dbFloorClient = new KeptAliveGetter(dbFloor.baseUrl, headers);
    const dbFloorPath = () => `/${pick(data.credentialIds)}`;
    try {
      // Warmed up as the service is: its JIT, and a pool of open connections (a new one costs ~14 ms here).
      await load(dbFloor.baseUrl, token, () => ({ method: 'GET', path: dbFloorPath() }));
      const before = sampleCpu([dbFloor.pid]);
      const result = await steadyLoad(GET_RATE, DURATION_S, () => dbFloorClient.get(dbFloorPath()));
      const cpu = cpuDelta(before, sampleCpu([dbFloor.pid]));
      if (result.failed > 0) throw new Error(`${result.failed} of ${result.sent} database floor requests failed`);
      figure('floor_db_get_p50', percentile(result.latenciesMs, 50), 'ms');
      figure('floor_db_get_p99', percentile(result.latenciesMs, 99), 'ms');
      figure('floor_db_get_cpu_per_request_server', (cpu.service * 1000) / result.sent, 'ms');
    } finally {
      dbFloorClient.close();
      dbFloor.stop();
    }

    // Warm up the JIT and the connection pool, right before measuring.
    await load(service.baseUrl, token, getRequest);
    await load(service.baseUrl, token, listRequest);

    await steady('list', LIST_RATE, () => listRequest().path);
    const listMax = await load(service.baseUrl, token, listRequest);
    figure('list_max_per_s', listMax.requests.average, '/s');
    figure('list_p99_at_max', listMax.latency.p99, 'ms');

    await steady('get', GET_RATE, () => getRequest().path);
    client.close();
    const getMax = await load(service.baseUrl, token, getRequest);
    figure('get_max_per_s', getMax.requests.average, '/s');
    figure('get_p99_at_max', getMax.latency.p99, 'ms');

    const issue = await load(service.baseUrl, token, () => ({
      method: 'POST',
      path: '/v1/credentials',
      body: JSON.stringify({
        agentId: pick(data.agentIds),
        type: 'api_key',
        environment: 'production',
        scopes: [`${data.product}:read`],
        rateLimit: { requests: 100, perSeconds: 60 },
      }),
    }));
    figure('issue_per_s', issue.requests.average, '/s');
    figure('issue_p50', issue.latency.p50, 'ms');
    figure('issue_p99', issue.latency.p99, 'ms');
    figure('rss_peak', service.peakRssMb(), 'MB');
  } finally {
    await service.stop();
    await db.drop();
  }
}

runMain(main);
