/**
 * npm run bench:revocation
 *
 * 10 local gateway receivers, 1,000 credentials, 1,000 revocations at
 * concurrency 20, then leak reports. The service runs as a child process
 * (api, worker and scheduler roles, like the default deployment) on a
 * database and Redis prefix of its own, both removed at the end.
 *
 * Concurrency 20 means 20 revocations in flight: each of 20 lanes revokes a
 * credential, waits until all 10 gateways acknowledged its credential.revoked,
 * then takes the next. Figures, one per line, `name: value unit`:
 *   revoke_p50/p99       the revoke call, as the client sees it
 *   propagation_p50/p99  call start -> the 10th gateway's acknowledgement
 *   floor_post_p99       one bare signed POST to a receiver, from this process
 *   floor_commit_p99     one Postgres commit (an autocommit INSERT)
 *   floor_revocation_tx_p50/p99  a revocation-shaped transaction: one event row
 *                        and one outbox row per gateway, BEGIN ... COMMIT
 * The floors are sampled during the same run, so they see the same machine.
 *
 * cpu_per_revocation_machine is the CPU the system under test spends per
 * revocation: the service, Postgres (the backends of the bench's database and
 * the server's own processes; other databases' backends are not counted) and
 * Redis; this process (client, receivers, floor sampler) is not counted.
 * cpu_per_revocation_all is everything busy on the machine, this process included.
 * The targets (cpu_per_revocation_machine <= 4 ms, propagation_p99 <= 100 ms,
 * revoke_p99 <= 25 ms at concurrency 20) are printed beside the floors as ratios.
 *
 * Further lines say where the time goes: the service's own mean for the
 * revoke route and for commit -> acknowledgement, its CPU per revocation and
 * its event-loop lag (all CPU figures read from /proc); then the rest of the
 * machine's CPU per revocation: Postgres, Redis, this process (client and
 * receivers) and the machine in all, and
 * `revocations_per_second_ceiling`: the rate this machine's cores could carry
 * at that cost, had nothing to wait on.
 *
 * Leak to refused (BENCH_LEAKS, 100; one at a time): a gateway token for the
 * first gateway, credentials issued through the API with their secrets; for
 * each, POST /v1/leaks { secret, action: revoke }, then /v1/authz with the key
 * (X-Gateway-Token, Bearer key) back to back until it answers 401:
 *   leak_to_refused_p50/p99  the leak call's start -> the first 401
 *   leak_call_p99            the leak call, as the client sees it
 *   floor_authz_p50          the service's own /v1/authz answer for the still valid key, just before
 *   floor_leak_io            floor_revocation_tx_p50 + floor_post_p50 + floor_authz_p50: a commit, a
 *                            request, and one refused authz; target 100 ms.
 *
 * Environment: BENCH_DATABASE_URL (a server's admin URL, default
 * postgres://postgres@127.0.0.1:5432/postgres), BENCH_REDIS_URL,
 * BENCH_REVOCATIONS (1000), BENCH_CONCURRENCY (20), BENCH_GATEWAYS (10),
 * BENCH_LEAKS (100), BENCH_POOL_SIZE (40: with api and worker in one process,
 * revocations waiting on the audit chain hold connections the delivery worker
 * needs), BENCH_NODE_ARGS (extra node flags for the service, e.g. --cpu-prof).
 *
 * Mass revocation: see massRevocation below (npm run bench:mass-revocation).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';

import { Client } from 'pg';

import { runMigrations } from '../src/common/db/run-migrations';
import { ChildApp } from '../test/support/child-app';
import { deleteRedisPrefix } from '../test/support/redis-prefix';
import {
  apiCall as api,
  copyCredentials,
  cpuDelta,
  CpuSample,
  floorSignedPosts,
  inLanes,
  PG_URL,
  processMemoryMb,
  ReceivedEvent,
  REDIS_URL,
  sampleCpu,
  serviceNodeFlags,
  signedPost,
  WebhookReceivers,
} from './support';

const REVOCATIONS = Number(process.env.BENCH_REVOCATIONS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
const GATEWAYS = Number(process.env.BENCH_GATEWAYS ?? 10);
const LEAKS = Number(process.env.BENCH_LEAKS ?? 100);
const SPLIT = process.env.BENCH_SPLIT === '1';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function print(name: string, value: number, unit = 'ms'): void {
  console.log(`${name}: ${value.toFixed(unit === 'count' ? 0 : 2)} ${unit}`);
}

/**
 * Postgres CPU seconds of the system under test: the backends connected to the
 * bench's database and the server's own processes (WAL writer, checkpointer,
 * autovacuum...), leaving out backends of other databases (other work on this machine).
 */
function postgresOf(delta: CpuSample, dbName: string): number {
  let seconds = 0;
  for (const [pid, { part, seconds: used }] of delta.byPid) {
    if (part !== 'postgres') continue;
    let command = '';
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    const backend = BACKEND_TITLE.exec(command);
    if (!backend || backend[1] === dbName) seconds += used;
  }
  return seconds;
}

/**
 * A backend's process title: "postgres: [<cluster>: ]<user> <database> <client> <state>" (Debian's servers name
 * their cluster, "15/main: "); the server's own processes name their job instead.
 */
const BACKEND_TITLE = /^postgres: (?:\S+: )?\S+ (\S+) (\S+\(\d+\)|\[local\])/;

/**
 * CPU seconds of one database's backends from now until `stop`, looked at every 100 ms: a pooled connection
 * the service closes while idle takes its CPU with it from a sample taken only at the end, but not from this.
 */
function trackBackends(dbName: string): { stop: () => number } {
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  const look = (initial: boolean) => {
    for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      try {
        const backend = BACKEND_TITLE.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
        if (backend?.[1] !== dbName) continue;
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const seconds = (Number(fields[11]) + Number(fields[12])) / 100;
        if (initial) first.set(pid, seconds);
        last.set(pid, seconds);
      } catch {
        // exited meanwhile
      }
    }
  };
  look(true);
  const timer = setInterval(() => look(false), 100);
  return {
    stop: () => {
      clearInterval(timer);
      look(false);
      let seconds = 0;
      for (const [pid, used] of last) seconds += used - (first.get(pid) ?? 0);
      return seconds;
    },
  };
}

/** A bench run's service: its database, Redis prefix, receivers and gateways, and one agent to issue to. */
interface Bench {
  base: string;
  adminToken: string;
  dbName: string;
  dbUrl: string;
  receivers: WebhookReceivers;
  gatewayIds: string[];
  agentId: string;
  product: string;
  servicePids: number[];
  close(): Promise<void>;
}

/**
 * Starts a run: a fresh migrated database, GATEWAYS receivers (each event to
 * `onEvent`), the service as a child process (two with BENCH_SPLIT=1), its
 * gateways (`batchEvents` as asked), an owner, a product and an agent.
 */
async function startBench(onEvent: (event: ReceivedEvent, receiver: number, at: number) => void, batchEvents = false): Promise<Bench> {
  const dbName = `agc_bench_${randomBytes(4).toString('hex')}`;
  const dbUrl = new URL(PG_URL);
  dbUrl.pathname = `/${dbName}`;
  const prefix = `bench_${randomBytes(4).toString('hex')}`;
  const adminToken = `agt_bench_${randomBytes(24).toString('hex')}`;
  const admin = new Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  let receivers: WebhookReceivers | null = null;
  const apps: ChildApp[] = [];
  const close = async () => {
    for (const app of apps.reverse()) await app.stop();
    await receivers?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    await deleteRedisPrefix(prefix, REDIS_URL);
  };
  try {
    await runMigrations(dbUrl.toString());
    receivers = await WebhookReceivers.start(GATEWAYS, onEvent);
    process.stderr.write(`starting the service (database ${dbName}, redis prefix ${prefix})\n`);
    const serviceEnv = {
      DATABASE_URL: dbUrl.toString(),
      DATABASE_POOL_SIZE: process.env.BENCH_POOL_SIZE ?? '40',
      REDIS_URL,
      REDIS_PREFIX: prefix,
      ADMIN_TOKEN: adminToken,
      LOCAL_STORE_KEY: randomBytes(32).toString('base64'),
      DELIVERY_CONCURRENCY: '64',
      LOG_LEVEL: 'warn',
    };
    const nodeArgs = [...serviceNodeFlags(), ...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [])];
    // BENCH_SPLIT=1: the worker role in a process of its own, as docs/architecture.md "Process roles" scales out.
    if (SPLIT) apps.push(await ChildApp.start({ env: { ...serviceEnv, ROLES: 'worker' }, startTimeoutMs: 120_000, nodeArgs }));
    const app = await ChildApp.start({
      env: { ...serviceEnv, ROLES: SPLIT ? 'api,scheduler' : 'api,worker,scheduler' },
      startTimeoutMs: 120_000,
      nodeArgs,
    });
    apps.push(app);
    const base = app.baseUrl!;
    const gatewayIds: string[] = [];
    for (const [i, url] of receivers.urls.entries()) {
      const gateway = await api(base, adminToken, 'POST', '/v1/gateways', {
        name: `bench-gw-${i}`,
        url,
        environments: ['production'],
        ...(batchEvents ? { batchEvents: true } : {}),
      });
      gatewayIds.push(gateway.gateway.id);
    }
    const owner = await api(base, adminToken, 'POST', '/v1/owners', { name: 'bench', email: `bench-${prefix}@example.com`, kind: 'team' });
    const product = await api(base, adminToken, 'POST', '/v1/products', {
      name: `bench-${prefix.replace(/_/g, '-')}`,
      operations: ['read', 'write'],
    });
    const agent = await api(base, adminToken, 'POST', '/v1/agents', { name: 'bench-agent', ownerId: owner.id });
    return {
      base,
      adminToken,
      dbName,
      dbUrl: dbUrl.toString(),
      receivers,
      gatewayIds,
      agentId: agent.id,
      product: product.name,
      servicePids: apps.map((a) => a.pid),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Issues a production API key to the bench's agent: its id and secret. */
async function issue(bench: Bench): Promise<{ id: string; secret: string }> {
  const issued = await api(bench.base, bench.adminToken, 'POST', '/v1/credentials', {
    agentId: bench.agentId,
    type: 'api_key',
    environment: 'production',
    scopes: [`${bench.product}:read`],
    rateLimit: { requests: 100_000, perSeconds: 60 },
  });
  return { id: issued.credential.id, secret: issued.secret };
}

type Waiter = { acks: number; last: number; done: () => void };

async function main(): Promise<void> {
  const waiters = new Map<string, Waiter>();
  const issuedAt = Array.from({ length: GATEWAYS }, () => 0);
  const bench = await startBench((event, receiver, at) => {
    if (event.type === 'credential.issued') issuedAt[receiver]++;
    if (event.type !== 'credential.revoked') return;
    const waiter = waiters.get(event.data.credentialId);
    if (!waiter) return;
    waiter.acks++;
    waiter.last = Math.max(waiter.last, at);
    if (waiter.acks === GATEWAYS) waiter.done();
  });
  const floorDb = new Client({ connectionString: bench.dbUrl });
  const floorReceiver = await WebhookReceivers.start(1);
  let running = true;
  let sampler: Promise<void> = Promise.resolve();
  try {
    const { base, adminToken } = bench;
    const credentialIds: string[] = [];
    process.stderr.write(`issuing ${REVOCATIONS} credentials\n`);
    await inLanes(Array.from({ length: REVOCATIONS }), CONCURRENCY, async () => {
      credentialIds.push((await issue(bench)).id);
    });
    // Let every credential.issued reach every gateway first: revocations queue behind them otherwise.
    await waitUntil(() => issuedAt.every((n) => n >= REVOCATIONS), 300_000, 'issued events did not drain');

    // Floors, sampled alongside the revocations.
    await floorDb.connect();
    await floorDb.query('CREATE TABLE bench_floor (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())');
    // The revocation-shaped transaction: an event and one outbox row per gateway, like the outbox tables.
    await floorDb.query(
      `CREATE TABLE bench_floor_events (id uuid PRIMARY KEY, seq bigserial, payload text NOT NULL, created_at timestamptz NOT NULL);
       CREATE TABLE bench_floor_deliveries (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), event_id uuid NOT NULL REFERENCES bench_floor_events,
         gateway int NOT NULL, status text NOT NULL, next_attempt_at timestamptz NOT NULL);
       CREATE INDEX ON bench_floor_deliveries (gateway, next_attempt_at) WHERE status = 'pending'`,
    );
    const floorKey = randomBytes(32);
    const floorAgent = new http.Agent({ keepAlive: true });
    const floorPost: number[] = [];
    const floorCommit: number[] = [];
    const floorTx: number[] = [];
    sampler = (async () => {
      while (running) {
        const body = JSON.stringify({ type: 'bench.floor', timestamp: new Date().toISOString(), data: {} });
        let t0 = performance.now();
        await signedPost(floorAgent, floorReceiver.urls[0], floorKey, body);
        floorPost.push(performance.now() - t0);
        t0 = performance.now();
        await floorDb.query('INSERT INTO bench_floor DEFAULT VALUES');
        floorCommit.push(performance.now() - t0);
        t0 = performance.now();
        const eventId = randomUUID();
        await floorDb.query('BEGIN');
        await floorDb.query('INSERT INTO bench_floor_events (id, payload, created_at) VALUES ($1, $2, now())', [eventId, body]);
        await floorDb.query(
          `INSERT INTO bench_floor_deliveries (event_id, gateway, status, next_attempt_at)
           SELECT $1, g, 'pending', now() FROM generate_series(1, $2::int) g`,
          [eventId, GATEWAYS],
        );
        await floorDb.query('COMMIT');
        floorTx.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    const machineBefore = sampleCpu(bench.servicePids);
    process.stderr.write(`revoking ${REVOCATIONS} credentials, ${CONCURRENCY} in flight\n`);
    const revoke: number[] = [];
    const propagation: number[] = [];
    const started = performance.now();
    await inLanes(credentialIds, CONCURRENCY, async (credentialId) => {
      let done!: () => void;
      const acked = new Promise<void>((resolve) => (done = resolve));
      const waiter: Waiter = { acks: 0, last: 0, done };
      waiters.set(credentialId, waiter);
      const t0 = performance.now();
      await api(base, adminToken, 'POST', `/v1/credentials/${credentialId}/revoke`, { reason: 'bench' });
      revoke.push(performance.now() - t0);
      await within(acked, 60_000, `revocation of ${credentialId} not acknowledged by all gateways within 60 s`);
      propagation.push(waiter.last - t0);
    });
    const elapsed = performance.now() - started;
    const machine = cpuDelta(machineBefore, sampleCpu(bench.servicePids));

    const leaks = LEAKS > 0 ? await leakToRefused(bench) : null;
    running = false;
    await sampler;
    floorAgent.destroy();

    print('revoke_p50', percentile(revoke, 50));
    print('revoke_p99', percentile(revoke, 99));
    print('propagation_p50', percentile(propagation, 50));
    print('propagation_p99', percentile(propagation, 99));
    print('floor_post_p99', percentile(floorPost, 99));
    print('floor_commit_p99', percentile(floorCommit, 99));
    print('revoke_max', Math.max(...revoke));
    print('propagation_max', Math.max(...propagation));
    print('floor_post_p50', percentile(floorPost, 50));
    print('floor_commit_p50', percentile(floorCommit, 50));
    print('floor_revocation_tx_p50', percentile(floorTx, 50));
    print('floor_revocation_tx_p99', percentile(floorTx, 99));
    print('revocations_per_second', (REVOCATIONS / elapsed) * 1000, 'count');
    // Where the time goes, from the service's own metrics.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const metric = (pattern: RegExp) => Number(pattern.exec(metrics)?.[1] ?? NaN);
    const revokeSum = metric(
      /http_request_duration_seconds_sum\{method="POST",route="\/v1\/credentials\/:id\/revoke",status_code="202"\} ([\d.e+-]+)/,
    );
    const revokeCount = metric(
      /http_request_duration_seconds_count\{method="POST",route="\/v1\/credentials\/:id\/revoke",status_code="202"\} ([\d.e+-]+)/,
    );
    print('server_revoke_mean', (revokeSum / revokeCount) * 1000);
    let ackSum = 0;
    let ackCount = 0;
    for (const m of metrics.matchAll(/webhook_ack_latency_seconds_sum\{event_type="credential.revoked",[^}]*\} ([\d.e+-]+)/g))
      ackSum += Number(m[1]);
    for (const m of metrics.matchAll(/webhook_ack_latency_seconds_count\{event_type="credential.revoked",[^}]*\} ([\d.e+-]+)/g))
      ackCount += Number(m[1]);
    print('server_commit_to_ack_mean', (ackSum / ackCount) * 1000);
    print('service_cpu_per_revocation', (machine.service / REVOCATIONS) * 1000);
    print('service_cpu_share', (machine.service / (elapsed / 1000)) * 100, '%');
    print('service_eventloop_lag_p99', metric(/^nodejs_eventloop_lag_p99_seconds ([\d.e+-]+)$/m) * 1000);
    // The rest of the machine's CPU per revocation (Postgres, Redis, and this process with its receivers;
    // the service's is above), and the rate the machine's cores could carry at that cost: a ceiling on throughput.
    const perRevocation = (seconds: number) => (seconds / REVOCATIONS) * 1000;
    print('machine_busy', (machine.machineBusy / machine.machineTotal) * 100, '%');
    const postgres = postgresOf(machine, bench.dbName);
    print('cpu_per_revocation_postgres', perRevocation(postgres));
    print('cpu_per_revocation_postgres_all', perRevocation(machine.postgres));
    print('cpu_per_revocation_redis', perRevocation(machine.redis));
    print('cpu_per_revocation_bench', perRevocation(machine.bench));
    print('cpu_per_revocation_all', perRevocation(machine.machineBusy));
    // The system under test: service, its Postgres and Redis; not this process, nor other work on the machine.
    const systemCpu = perRevocation(machine.service + postgres + machine.redis);
    print('cpu_per_revocation_machine', systemCpu);
    const cores = machine.machineTotal / (elapsed / 1000);
    print('revocations_per_second_ceiling', (cores * 1000) / systemCpu, 'count');
    // The targets beside the floors: the bare I/O of one revocation is one revocation-shaped transaction and one signed POST per gateway.
    const floorIo = percentile(floorTx, 50) + GATEWAYS * percentile(floorPost, 50);
    print('floor_revocation_io', floorIo);
    print('target_cpu_per_revocation_machine', 4);
    print('cpu_per_revocation_machine_over_floor_io', systemCpu / floorIo, 'x');
    print('target_over_floor_io', 4 / floorIo, 'x');
    print('target_propagation_p99', 100);
    print('propagation_p99_over_target', percentile(propagation, 99) / 100, 'x');
    print('target_revoke_p99', 25);
    print('revoke_p99_over_target', percentile(revoke, 99) / 25, 'x');
    if (leaks) {
      print('leak_to_refused_p50', percentile(leaks.toRefused, 50));
      print('leak_to_refused_p99', percentile(leaks.toRefused, 99));
      print('leak_call_p99', percentile(leaks.call, 99));
      print('floor_authz_p50', percentile(leaks.authz, 50));
      const floorLeak = percentile(floorTx, 50) + percentile(floorPost, 50) + percentile(leaks.authz, 50);
      print('floor_leak_io', floorLeak);
      print('target_leak_to_refused_p99', 100);
      print('leak_to_refused_p99_over_target', percentile(leaks.toRefused, 99) / 100, 'x');
      print('target_over_floor_leak_io', 100 / floorLeak, 'x');
    }
  } finally {
    running = false;
    await sampler.catch(() => undefined);
    await floorDb.end().catch(() => undefined);
    await floorReceiver.close();
    await bench.close();
  }
}

/**
 * LEAKS leak reports, one at a time: each key is first allowed by /v1/authz
 * (that answer is the floor), then reported by POST /v1/leaks with action
 * revoke, then asked about back to back until /v1/authz refuses it (401).
 */
async function leakToRefused(bench: Bench): Promise<{ toRefused: number[]; call: number[]; authz: number[] }> {
  const { base, adminToken } = bench;
  const gatewayToken = (
    await api(base, adminToken, 'POST', '/v1/tokens', { name: 'bench-gateway', role: 'gateway', gatewayId: bench.gatewayIds[0] })
  ).token as string;
  process.stderr.write(`issuing ${LEAKS} credentials to report as leaked\n`);
  const keys: string[] = [];
  await inLanes(Array.from({ length: LEAKS }), CONCURRENCY, async () => {
    keys.push((await issue(bench)).secret);
  });
  const authz = async (key: string): Promise<number> => {
    const res = await fetch(`${base}/v1/authz`, {
      headers: { 'x-gateway-token': gatewayToken, authorization: `Bearer ${key}`, 'x-required-scope': `${bench.product}:read` },
    });
    await res.arrayBuffer();
    return res.status;
  };
  const toRefused: number[] = [];
  const call: number[] = [];
  const allowed: number[] = [];
  process.stderr.write(`reporting ${LEAKS} leaks, one at a time\n`);
  for (const key of keys) {
    let t0 = performance.now();
    const before = await authz(key);
    if (before !== 200) throw new Error(`authz answered ${before} for a valid key`);
    allowed.push(performance.now() - t0);
    t0 = performance.now();
    const answer = await api(base, adminToken, 'POST', '/v1/leaks', { secret: key, action: 'revoke', source: 'bench' });
    call.push(performance.now() - t0);
    if (!answer) throw new Error('no answer to the leak report');
    for (;;) {
      const status = await authz(key);
      if (status === 401) break;
      if (status !== 200) throw new Error(`authz answered ${status} after the leak report`);
      if (performance.now() - t0 > 10_000) throw new Error('a leaked key was still allowed 10 s after the report');
    }
    toRefused.push(performance.now() - t0);
  }
  return { toRefused, call, authz: allowed };
}

async function waitUntil(done: () => boolean, timeoutMs: number, message: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(message);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function within(promise: Promise<unknown>, timeoutMs: number, message: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(message)), timeoutMs)))]);
  } finally {
    clearTimeout(timer);
  }
}

/*
 * Mass revocation (npm run bench:mass-revocation, or this file with --mass):
 * one POST /v1/revocations revoking 10,000 credentials (BENCH_MASS_CREDENTIALS)
 * to 10 gateways (BENCH_GATEWAYS), from the call to the last gateway's
 * acknowledgement of the last credential.revoked, on the drain path
 * (docs/delivery.md). Two runs, each on a fresh service and database
 * (BENCH_MASS_VARIANTS=default,batched picks): gateways taking one event per
 * request, then gateways registered with batchEvents. Figures:
 *   mass_revocation_call_s   the POST, as the client sees it
 *   mass_revocation_s        call start -> every gateway acknowledged every credential
 *   mass_revocation_acked_at_answer
 *                            the share of those acknowledgements already in when the call answered (the rest is
 *                            the drains' backlog at that moment)
 *   rss_peak                 the service's peak resident set (VmHWM, and VmRSS every 100 ms), MB
 *   mass_revocation_service_cpu_s, mass_revocation_postgres_cpu_s
 *                            CPU seconds of the service and of its database's backends (and the server's own
 *                            processes) from the call to the last acknowledgement (a backend that exits meanwhile is not counted)
 *   mass_revocation_postgres_backends_cpu_s
 *                            its database's backends alone, looked at every 100 ms (so a pooled connection closed
 *                            while idle still counts): the server's own processes serve every database on the
 *                            machine, so on a shared machine this part is the steadier one
 *   floor_post_s             the same number of bare signed POSTs (credentials x gateways) from this process to
 *                            the receivers, 64 in flight: the HTTP part alone
 *   floor_db_s               the same rows written set-based in bare SQL (credentials updated; one event, one
 *                            revocation row and one audit row per credential; one delivery per credential and gateway)
 * and for batchEvents the same with a `_batched` suffix: mass_revocation_batched_s, rss_peak_batched, and
 * floor_post_batched_s, the bare POSTs of the batched bodies (500 events each, credentials/500 x gateways of them,
 * one in flight per gateway, as a drain sends them). Targets: mass_revocation_s <= 15 s, rss_peak <= 300 MB,
 * mass_revocation_batched_s <= 3 s; printed as ratios to the floors.
 */
async function massRevocation(batchEvents: boolean): Promise<void> {
  const credentials = Number(process.env.BENCH_MASS_CREDENTIALS ?? 10_000);
  const suffix = batchEvents ? '_batched' : '';
  let acks = 0;
  let lastAck = 0;
  let revocationId: string | null = null;
  const early: Array<{ revocationId: string; at: number }> = [];
  let allAcked: () => void = () => undefined;
  const acknowledged = new Promise<void>((resolve) => (allAcked = resolve));
  const onAck = (id: string, at: number) => {
    if (revocationId === null) return early.push({ revocationId: id, at });
    if (id !== revocationId) return;
    acks++;
    lastAck = Math.max(lastAck, at);
    if (acks === credentials * GATEWAYS) allAcked();
  };
  const bench = await startBench((event, _receiver, at) => {
    if (event.type === 'credential.revoked') onAck(event.data.revocationId, at);
  }, batchEvents);
  const db = new Client({ connectionString: bench.dbUrl });
  try {
    const { base, adminToken } = bench;
    const template = await issue(bench);
    await db.connect();
    await copyCredentials(db, template.id, credentials - 1);
    await new Promise((r) => setTimeout(r, 2000));

    process.stderr.write(`revoking ${credentials} credentials in one call, ${GATEWAYS} gateways${batchEvents ? ' (batchEvents)' : ''}\n`);
    const pid = bench.servicePids[bench.servicePids.length - 1];
    const rssSamples: number[] = [];
    const rssBefore = processMemoryMb(pid, 'VmRSS');
    const sampler = setInterval(() => rssSamples.push(processMemoryMb(pid, 'VmRSS')), 100);
    const cpuBefore = sampleCpu(bench.servicePids);
    const backends = trackBackends(bench.dbName);
    const t0 = performance.now();
    const answer = await api(base, adminToken, 'POST', '/v1/revocations', {
      reason: 'bench: mass revocation',
      filter: { agentIds: [bench.agentId] },
    });
    const callS = (performance.now() - t0) / 1000;
    revocationId = answer.revocationId as string;
    for (const e of early.splice(0)) onAck(e.revocationId, e.at);
    const ackedAtAnswer = acks / (credentials * GATEWAYS);
    await within(acknowledged, 1_200_000, `only ${acks} of ${credentials * GATEWAYS} acknowledged within 20 min`).finally(() =>
      clearInterval(sampler),
    );
    const massS = (lastAck - t0) / 1000;
    // CPU the service and its database used from the call to the last acknowledgement (not this process's receivers):
    // steadier than seconds on a shared machine.
    const cpu = cpuDelta(cpuBefore, sampleCpu(bench.servicePids));
    const backendsCpu = backends.stop();
    const hwm = Math.max(...bench.servicePids.map((p) => processMemoryMb(p, 'VmHWM')));

    // Floors, on the same machine right after: the same HTTP and the same rows, bare.
    const eventBody = JSON.stringify({ type: 'bench.floor', timestamp: new Date().toISOString(), data: { pad: 'x'.repeat(600) } });
    const floorPostS = batchEvents
      ? await floorSignedPosts(
          bench.receivers.urls,
          Math.ceil(credentials / 500) * GATEWAYS,
          `{"type":"batch","events":[${Array.from({ length: 500 }, () => eventBody).join(',')}]}`,
          GATEWAYS,
        )
      : await floorSignedPosts(bench.receivers.urls, credentials * GATEWAYS, eventBody, 64);
    const floorDbS = await floorRows(db, credentials, GATEWAYS);

    const show = (name: string, value: number, unit: string) => console.log(`${name}: ${value.toFixed(2)} ${unit}`);
    show(`mass_revocation${suffix}_call_s`, callS, 's');
    show(`mass_revocation${suffix}_s`, massS, 's');
    show(`mass_revocation${suffix}_acked_at_answer`, ackedAtAnswer * 100, '%');
    show(`rss_peak${suffix}`, Math.max(hwm, ...rssSamples), 'MB');
    show(`mass_revocation${suffix}_service_cpu_s`, cpu.service, 's');
    show(`mass_revocation${suffix}_postgres_cpu_s`, postgresOf(cpu, bench.dbName), 's');
    show(`mass_revocation${suffix}_postgres_backends_cpu_s`, backendsCpu, 's');
    show(`rss_before_call${suffix}`, rssBefore, 'MB');
    show(`floor_post${suffix}_s`, floorPostS, 's');
    show(`floor_db${suffix}_s`, floorDbS, 's');
    const target = batchEvents ? 3 : 15;
    show(`mass_revocation${suffix}_over_floor`, massS / (floorPostS + floorDbS), 'x');
    show(`target_mass_revocation${suffix}_s`, target, 's');
    show(`target${suffix}_over_floor`, target / (floorPostS + floorDbS), 'x');
    show(`mass_revocation${suffix}_over_target`, massS / target, 'x');
  } finally {
    await db.end().catch(() => undefined);
    await bench.close();
  }
}

/** The rows a mass revocation writes, written set-based in bare SQL into scratch tables: seconds. */
async function floorRows(db: Client, credentials: number, gateways: number): Promise<number> {
  await db.query('DROP TABLE IF EXISTS floor_credentials, floor_events, floor_rows, floor_audit, floor_deliveries');
  await db.query(
    `CREATE TABLE floor_credentials AS SELECT gen_random_uuid() AS id, 'active'::text AS status, NULL::timestamptz AS revoked_at
                    FROM generate_series(1, $1::int)`,
    [credentials],
  );
  await db.query('ALTER TABLE floor_credentials ADD PRIMARY KEY (id)');
  await db.query('CREATE TABLE floor_events (id uuid PRIMARY KEY, credential_id uuid, payload text)');
  await db.query('CREATE TABLE floor_rows (credential_id uuid PRIMARY KEY, event_id uuid)');
  await db.query('CREATE TABLE floor_audit (id uuid PRIMARY KEY, target_id uuid, data jsonb)');
  await db.query('CREATE TABLE floor_deliveries (id uuid PRIMARY KEY, event_id uuid, gateway int, status text)');
  const t0 = performance.now();
  await db.query('BEGIN');
  await db.query(`UPDATE floor_credentials SET status = 'revoked', revoked_at = now()`);
  await db.query(`INSERT INTO floor_events SELECT gen_random_uuid(), id, repeat('x', 600) FROM floor_credentials`);
  await db.query('INSERT INTO floor_rows SELECT credential_id, id FROM floor_events');
  await db.query(`INSERT INTO floor_audit SELECT gen_random_uuid(), credential_id, '{"reason":"bench"}'::jsonb FROM floor_events`);
  await db.query(
    `INSERT INTO floor_deliveries SELECT gen_random_uuid(), e.id, g, 'pending' FROM floor_events e, generate_series(1, $1::int) g`,
    [gateways],
  );
  await db.query(`UPDATE floor_deliveries SET status = 'delivered'`);
  await db.query('COMMIT');
  return (performance.now() - t0) / 1000;
}

async function massMain(): Promise<void> {
  const variants = (process.env.BENCH_MASS_VARIANTS ?? 'default,batched').split(',');
  if (variants.includes('default')) await massRevocation(false);
  if (variants.includes('batched')) await massRevocation(true);
}

(process.argv.includes('--mass') ? massMain() : main()).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
