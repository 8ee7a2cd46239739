/**
 * npm run bench:revocation
 *
 * 10 local gateway receivers, 1,000 credentials, 1,000 revocations at
 * concurrency 20. The service runs as a child process (api, worker and
 * scheduler roles, like the default deployment) on a database and Redis
 * prefix of its own, both removed at the end.
 *
 * Concurrency 20 means 20 revocations in flight: each of 20 lanes revokes a
 * credential, waits until all 10 gateways acknowledged its credential.revoked,
 * then takes the next. Figures, one per line, `name: value unit`:
 *   revoke_p50/p99       the revoke call, as the client sees it
 *   propagation_p50/p99  call start -> the 10th gateway's acknowledgement
 *   floor_post_p99       one bare signed POST to a receiver, from this process
 *   floor_commit_p99     one Postgres commit (an autocommit INSERT)
 * The floors are sampled during the same run, so they see the same machine.
 *
 * Further lines say where the time goes: the service's own mean for the
 * revoke route and for commit -> acknowledgement, its CPU per revocation and
 * its event-loop lag (all CPU figures read from /proc); then the rest of the
 * machine's CPU per revocation: Postgres, Redis, this process (client and
 * receivers) and the machine in all, and
 * `revocations_per_second_ceiling`: the rate this machine's cores could carry
 * at that cost, had nothing to wait on.
 *
 * Environment: BENCH_DATABASE_URL (a server's admin URL, default
 * postgres://postgres@127.0.0.1:5432/postgres), BENCH_REDIS_URL,
 * BENCH_REVOCATIONS (1000), BENCH_CONCURRENCY (20), BENCH_GATEWAYS (10),
 * BENCH_POOL_SIZE (40: with api and worker in one process, revocations
 * waiting on the audit chain hold connections the delivery worker needs),
 * BENCH_NODE_ARGS (extra node flags for the service, e.g. --prof).
 */
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { Client } from 'pg';

import { runMigrations } from '../src/common/db/run-migrations';
import { ChildApp } from '../test/support/child-app';
import { deleteRedisPrefix } from '../test/support/redis-prefix';
import { cpuDelta, PG_URL, REDIS_URL, sampleCpu, serviceNodeFlags } from './support';

const REVOCATIONS = Number(process.env.BENCH_REVOCATIONS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
const GATEWAYS = Number(process.env.BENCH_GATEWAYS ?? 10);
const SPLIT = process.env.BENCH_SPLIT === '1';

type Waiter = { acks: number; last: number; done: () => void };

/** A receiver that acknowledges at once and notes when each revocation reached it. */
class Receiver {
  readonly server: http.Server;
  issued = 0;

  constructor(private readonly waiters: Map<string, Waiter>) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(204).end();
        const at = performance.now();
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (event.type === 'credential.issued') this.issued++;
        if (event.type !== 'credential.revoked') return;
        const waiter = this.waiters.get(event.data.credentialId);
        if (!waiter) return;
        waiter.acks++;
        waiter.last = Math.max(waiter.last, at);
        if (waiter.acks === GATEWAYS) waiter.done();
      });
    });
    this.server.keepAliveTimeout = 60_000;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/events`;
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function print(name: string, value: number, unit = 'ms'): void {
  console.log(`${name}: ${value.toFixed(unit === 'ms' ? 2 : 0)} ${unit}`);
}

async function api(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function inLanes<T>(items: T[], lanes: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

async function main(): Promise<void> {
  const dbName = `agc_bench_${randomBytes(4).toString('hex')}`;
  const dbUrl = new URL(PG_URL);
  dbUrl.pathname = `/${dbName}`;
  const prefix = `bench_${randomBytes(4).toString('hex')}`;
  const adminToken = `agt_bench_${randomBytes(24).toString('hex')}`;
  const admin = new Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const waiters = new Map<string, Waiter>();
  const receivers = Array.from({ length: GATEWAYS }, () => new Receiver(waiters));
  const floorReceiver = new Receiver(new Map());
  let app: ChildApp | null = null;
  let worker: ChildApp | null = null;
  const floorDb = new Client({ connectionString: dbUrl.toString() });

  try {
    await runMigrations(dbUrl.toString());
    const urls = await Promise.all(receivers.map((r) => r.listen()));
    const floorUrl = await floorReceiver.listen();
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
    // BENCH_SPLIT=1: the worker role in a process of its own, as DESIGN.md's scale-out runs it.
    if (SPLIT) {
      worker = await ChildApp.start({ env: { ...serviceEnv, ROLES: 'worker' }, startTimeoutMs: 120_000, nodeArgs });
    }
    app = await ChildApp.start({
      env: { ...serviceEnv, ROLES: SPLIT ? 'api,scheduler' : 'api,worker,scheduler' },
      startTimeoutMs: 120_000,
      nodeArgs,
    });
    const base = app.baseUrl!;

    for (let i = 0; i < GATEWAYS; i++) {
      await api(base, adminToken, 'POST', '/v1/gateways', { name: `bench-gw-${i}`, url: urls[i], environments: ['production'] });
    }
    const owner = await api(base, adminToken, 'POST', '/v1/owners', { name: 'bench', email: `bench-${prefix}@example.com`, kind: 'team' });
    const product = await api(base, adminToken, 'POST', '/v1/products', {
      name: `bench-${prefix.replace(/_/g, '-')}`,
      operations: ['read', 'write'],
    });
    const agent = await api(base, adminToken, 'POST', '/v1/agents', { name: 'bench-agent', ownerId: owner.id });
    const credentialIds: string[] = [];
    process.stderr.write(`issuing ${REVOCATIONS} credentials\n`);
    await inLanes(Array.from({ length: REVOCATIONS }), CONCURRENCY, async () => {
      const issued = await api(base, adminToken, 'POST', '/v1/credentials', {
        agentId: agent.id,
        type: 'api_key',
        environment: 'production',
        scopes: [`${product.name}:read`],
        rateLimit: { requests: 100, perSeconds: 60 },
      });
      credentialIds.push(issued.credential.id);
    });
    // Let every credential.issued reach every gateway first: revocations queue behind them otherwise.
    const issuedDeadline = performance.now() + 300_000;
    while (receivers.some((r) => r.issued < REVOCATIONS)) {
      if (performance.now() > issuedDeadline) throw new Error('issued events did not drain');
      await new Promise((r) => setTimeout(r, 100));
    }

    // Floors, sampled alongside the revocations.
    await floorDb.connect();
    await floorDb.query('CREATE TABLE bench_floor (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())');
    const floorKey = randomBytes(32);
    const floorAgent = new http.Agent({ keepAlive: true });
    const floorPost: number[] = [];
    const floorCommit: number[] = [];
    let running = true;
    const sampler = (async () => {
      while (running) {
        const body = JSON.stringify({ type: 'bench.floor', timestamp: new Date().toISOString(), data: {} });
        const id = randomBytes(8).toString('hex');
        const ts = Math.floor(Date.now() / 1000);
        const signature = `v1,${createHmac('sha256', floorKey).update(`${id}.${ts}.${body}`).digest('base64')}`;
        let t0 = performance.now();
        await new Promise<void>((resolve, reject) => {
          const req = http.request(
            floorUrl,
            {
              method: 'POST',
              agent: floorAgent,
              headers: {
                'content-type': 'application/json',
                'webhook-id': id,
                'webhook-timestamp': String(ts),
                'webhook-signature': signature,
              },
            },
            (res) => {
              res.resume();
              res.on('end', resolve);
            },
          );
          req.on('error', reject);
          req.end(body);
        });
        floorPost.push(performance.now() - t0);
        t0 = performance.now();
        await floorDb.query('INSERT INTO bench_floor DEFAULT VALUES');
        floorCommit.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    const servicePids = [app.pid, ...(worker ? [worker.pid] : [])];
    const machineBefore = sampleCpu(servicePids);
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
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        acked,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`revocation of ${credentialId} not acknowledged by all gateways within 60 s`)), 60_000);
        }),
      ]);
      clearTimeout(timer);
      propagation.push(waiter.last - t0);
    });
    const elapsed = performance.now() - started;
    const machine = cpuDelta(machineBefore, sampleCpu(servicePids));
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
    print('cpu_per_revocation_postgres', perRevocation(machine.postgres));
    print('cpu_per_revocation_redis', perRevocation(machine.redis));
    print('cpu_per_revocation_bench', perRevocation(machine.bench));
    print('cpu_per_revocation_machine', perRevocation(machine.machineBusy));
    const cores = machine.machineTotal / (elapsed / 1000);
    print('revocations_per_second_ceiling', (cores * 1000) / perRevocation(machine.machineBusy), 'count');
  } finally {
    if (app) await app.stop();
    if (worker) await worker.stop();
    await floorDb.end().catch(() => undefined);
    for (const r of [...receivers, floorReceiver]) r.server.closeAllConnections();
    await Promise.all([...receivers, floorReceiver].map((r) => new Promise((resolve) => r.server.close(resolve))));
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    await deleteRedisPrefix(prefix, REDIS_URL);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
