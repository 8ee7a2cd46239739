/**
 * npm run bench:rotation
 *
 * 10,000 due credentials rotated end to end by the compiled service (api,
 * worker and scheduler roles in one process, like the default deployment):
 * the scheduler's sweep starts the rotations, the workers write each new
 * version to its store, publish credential.rotated through the outbox, read
 * the version back and promote it. Once on the local store, once on the
 * Vault double (in a child process of its own, as in bench:stores, so it
 * shares no event loop with this script). Figures, one per line, `name: value unit`:
 *   rotations_per_s_local / _vault   rotations promoted per second, from the moment the
 *                                    credentials became due to the last promotion
 *   rotation_p99                     the worker's time for one rotation (job start to
 *                                    promotion; queueing excluded), over both runs
 *   rotation_p99_due_to_promoted     the same including the wait in the queue
 *   vault_write_per_s                the floor, measured as bench:stores does (vault_write_per_s_c32):
 *                                    first-version writes per second through the Vault adapter to
 *                                    the double, 32 in flight, taken while seeding version 1 of
 *                                    every Vault credential of this run
 *   vault_share_of_floor             rotations_per_s_vault as a share of vault_write_per_s
 *   service_cpu_per_rotation_local / _vault
 *                                    the service's CPU (all its threads) per rotation in each run
 *   floor_cpu_per_vault_write        this script's CPU per floor write (adapter and HTTP client)
 *   vault_share_at_equal_cpu         floor_cpu_per_vault_write / service_cpu_per_rotation_vault: the
 *                                    share a rotation could reach with as much CPU as the floor's process had
 *   machine_busy_vault               both cores' busy share during the Vault run
 *   rss_peak                         the service's peak resident memory
 *
 * Environment: BENCH_DATABASE_URL (an admin URL), BENCH_REDIS_URL,
 * BENCH_ROTATIONS (10000 per store), BENCH_CONCURRENCY (64: rotation jobs in
 * flight per store queue; the service's default is 16), BENCH_POOL (40: the
 * service's Postgres pool), BENCH_GATEWAYS (0: with N,
 * N receivers get every event too), BENCH_NODE_ARGS (e.g. --cpu-prof for the service).
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';

import { Logger } from '@nestjs/common';
import { Client } from 'pg';

import { SystemClock } from '../src/common/clock/clock';
import { VaultSecretStore } from '../src/secret-stores/vault.store';
import { deleteRedisPrefix } from '../test/support/redis-prefix';
import {
  cpuDelta,
  figure,
  freshDatabase,
  percentile,
  REDIS_URL,
  runMain,
  sampleCpu,
  serviceEnv,
  startOwnChild,
  startService,
  WebhookReceivers,
} from './support';

const ROTATIONS = Number(process.env.BENCH_ROTATIONS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const POOL = Number(process.env.BENCH_POOL ?? 40);
const GATEWAYS = Number(process.env.BENCH_GATEWAYS ?? 0);
const AGENTS = 100;
/** In flight while seeding Vault, as bench:stores' vault_write_per_s_c32. */
const FLOOR_CONCURRENCY = 32;

async function seed(
  client: Client,
  store: 'local' | 'vault',
  count: number,
): Promise<Array<{ id: string; agentId: string; ownerId: string }>> {
  const now = new Date();
  const owner = randomUUID();
  await client.query(`INSERT INTO owners (id, name, email, kind, created_at, updated_at) VALUES ($1, $2, $3, 'team', $4, $4)`, [
    owner,
    `bench ${store}`,
    `bench-${store}-${owner}@example.com`,
    now,
  ]);
  await client.query(
    `INSERT INTO agents (id, name, owner_id, status, created_at, updated_at)
     SELECT gen_random_uuid(), 'agent ' || $3 || ' ' || a, $1, 'active', $2, $2 FROM generate_series(1, $4) a`,
    [owner, now, store, AGENTS],
  );
  // Not due yet: each run makes its own store's credentials due at once, to time sweep -> promoted.
  const rows = await client.query(
    `INSERT INTO credentials (id, client_id, agent_id, owner_id, type, environment, scopes, rate_limit_requests,
       rate_limit_per_seconds, ip_allowlist, secret_store, secret_ref, secret_version, secret_version_id, secret_sha256,
       secret_delivered_version, status, rotation_interval_days, grace_period_hours, next_rotation_at, requested_by,
       created_at, updated_at)
     SELECT id, 'agc_' || replace(id::text, '-', ''), agent_id, $1, 'api_key', 'production', ARRAY['customers:read'], 100, 60,
            ARRAY[]::text[], $2, CASE WHEN $2 = 'local' THEN 'local:' || id ELSE 'secret/data/agents/' || agent_id || '/' || id END,
            1, '1', md5(id::text) || md5(agent_id::text), 1, 'active', 90, 24, $3::timestamptz + interval '3650 days', 'bench', $3, $3
       FROM (SELECT gen_random_uuid() AS id, a.id AS agent_id
               FROM generate_series(1, $4) n
               JOIN (SELECT id, (row_number() OVER ()) - 1 AS idx FROM agents WHERE owner_id = $1) a ON a.idx = n % $5) s
     RETURNING id, agent_id AS "agentId", owner_id AS "ownerId"`,
    [owner, store, now, count, AGENTS],
  );
  if (store === 'local') {
    // Version 1 as the local store keeps it (sealed bytes; a rotation never reads them, its promotion demotes the row).
    await client.query(
      `INSERT INTO local_secret_versions (credential_id, version, request_token, key_fingerprint, nonce, ciphertext, auth_tag, state, created_at)
       SELECT id, 1, id, 'bench', decode(repeat('ab', 12), 'hex'), decode(repeat('cd', 80), 'hex'), decode(repeat('ef', 16), 'hex'), 'current', $2
         FROM credentials WHERE owner_id = $1`,
      [owner, now],
    );
  }
  await client.query('ANALYZE');
  return rows.rows;
}

/**
 * Writes version 1 of every Vault credential through the adapter (a CAS data
 * write and a metadata write, as issuance does), FLOOR_CONCURRENCY at a time;
 * returns first-version writes per second: bench:stores' floor, in this run.
 */
async function seedVault(
  vault: { url: string; token: string },
  credentials: Array<{ id: string; agentId: string; ownerId: string }>,
): Promise<{ perSecond: number; cpuMsPerWrite: number }> {
  const store = new VaultSecretStore(
    { address: vault.url, token: vault.token, mount: 'secret', maxVersions: 20, timeoutMs: 30_000, maxAttempts: 1, retryBaseDelayMs: 1 },
    new SystemClock(),
  );
  let next = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  try {
    await Promise.all(
      Array.from({ length: FLOOR_CONCURRENCY }, async () => {
        while (next < credentials.length) {
          const c = credentials[next++];
          await store.writeVersion({
            target: { credentialId: c.id, agentId: c.agentId, ownerId: c.ownerId, environment: 'production' },
            version: 1,
            requestToken: c.id,
            secret: `agk_live_${randomBytes(32).toString('base64url')}`,
          });
        }
      }),
    );
    const cpu = process.cpuUsage(cpuBefore);
    return {
      perSecond: credentials.length / ((performance.now() - started) / 1000),
      cpuMsPerWrite: (cpu.user + cpu.system) / 1000 / credentials.length,
    };
  } finally {
    store.close();
  }
}

/** The Vault double in a child process: this file run with `--vault-double`. */
async function serveVaultDouble(): Promise<void> {
  const { VaultDouble } = await import('../test/doubles/vault-double');
  const vault = await new VaultDouble().start();
  // The double records every call; nobody reads them here, so keep its memory flat.
  setInterval(() => (vault.calls.length = 0), 1000).unref();
  process.stdout.write(`${JSON.stringify({ url: vault.url, token: vault.rootToken })}\n`);
  process.on('SIGTERM', () => void vault.stop().then(() => process.exit(0)));
}

function startVaultDouble(): Promise<{ child: ChildProcess } & { url: string; token: string }> {
  return startOwnChild(__filename, '--vault-double');
}

/** Makes one store's credentials due now and waits until every one is promoted; returns rotations per second. */
async function rotateAll(client: Client, store: 'local' | 'vault', count: number): Promise<number> {
  const started = performance.now();
  await client.query(`UPDATE credentials SET next_rotation_at = now() - interval '1 minute' WHERE secret_store = $1`, [store]);
  let lastProgress = performance.now();
  let last = 0;
  for (;;) {
    const { rows } = await client.query(
      `SELECT count(*) FILTER (WHERE status = 'completed')::int AS done, count(*) FILTER (WHERE status = 'failed')::int AS failed
         FROM rotations WHERE secret_store = $1`,
      [store],
    );
    if (rows[0].failed > 0) throw new Error(`${rows[0].failed} ${store} rotations failed`);
    if (rows[0].done >= count) break;
    if (rows[0].done !== last) {
      last = rows[0].done;
      lastProgress = performance.now();
    } else if (performance.now() - lastProgress > 60_000) {
      throw new Error(`${store}: no progress for a minute at ${last} of ${count}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return count / ((performance.now() - started) / 1000);
}

/** p99 from a Prometheus histogram's cumulative buckets, interpolated within the bucket. */
function histogramP99(metrics: string, name: string): number {
  const buckets = new Map<number, number>();
  for (const line of metrics.split('\n')) {
    const m = new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\d+)`).exec(line);
    if (!m) continue;
    const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
    buckets.set(le, (buckets.get(le) ?? 0) + Number(m[2]));
  }
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  const target = total * 0.99;
  let prev: [number, number] = [0, 0];
  for (const [le, count] of sorted) {
    if (count >= target) {
      if (le === Infinity) return prev[0];
      return prev[0] + ((le - prev[0]) * (target - prev[1])) / Math.max(1, count - prev[1]);
    }
    prev = [le, count];
  }
  return NaN;
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error']);
  const redisPrefix = `bench_rot_${randomBytes(4).toString('hex')}`;
  const db = await freshDatabase('agc_bench_rot');
  const vault = await startVaultDouble();
  const gateways = await WebhookReceivers.start(GATEWAYS);
  const client = new Client({ connectionString: db.url });
  await client.connect();
  const adminToken = `agt_bench_${randomBytes(24).toString('hex')}`;
  let service: Awaited<ReturnType<typeof startService>> | null = null;
  try {
    const local = await seed(client, 'local', ROTATIONS);
    const inVault = await seed(client, 'vault', ROTATIONS);
    const vaultWrites = await seedVault(vault, inVault);

    service = await startService(
      serviceEnv(db.url, adminToken, {
        DATABASE_POOL_SIZE: String(POOL),
        REDIS_PREFIX: redisPrefix,
        VAULT_ADDR: vault.url,
        VAULT_TOKEN: vault.token,
        ROLES: 'api,worker,scheduler',
        LOG_LEVEL: 'warn',
        // A sweep drains every due batch at once, so a second's wait starts all of them; a sweep also
        // walks every due credential (those already rotating too), so sweeping more often costs Postgres more.
        ROTATION_SWEEP_INTERVAL_MS: '1000',
        ROTATION_SWEEP_BATCH: '1000',
        ROTATION_CONCURRENCY: String(CONCURRENCY),
        ROTATION_RATE_LIMIT_LOCAL: '10000000',
        ROTATION_RATE_LIMIT_VAULT: '10000000',
      }),
    );
    for (const [i, url] of gateways.urls.entries()) {
      const res = await fetch(`${service.baseUrl}/v1/gateways`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: `bench-${i}`,
          url,
          environments: ['production'],
        }),
      });
      if (res.status !== 201) throw new Error(`gateway: HTTP ${res.status}`);
    }

    const servicePid = service.child.pid!;
    const atStart = sampleCpu([servicePid]);
    const localRate = await rotateAll(client, 'local', local.length);
    const afterLocal = sampleCpu([servicePid]);
    const vaultRate = await rotateAll(client, 'vault', inVault.length);
    const localCpu = cpuDelta(atStart, afterLocal);
    const vaultCpu = cpuDelta(afterLocal, sampleCpu([servicePid]));
    const serviceMsPerVaultRotation = (vaultCpu.service * 1000) / inVault.length;

    const metrics = await (await fetch(`${service.baseUrl}/metrics`)).text();
    const { rows } = await client.query(
      `SELECT extract(epoch FROM completed_at - created_at) * 1000 AS ms FROM rotations WHERE status = 'completed' ORDER BY 1`,
    );
    figure('rotations_per_s_local', localRate, '/s');
    figure('rotations_per_s_vault', vaultRate, '/s');
    figure('rotation_p99', histogramP99(metrics, 'rotation_run_seconds') * 1000, 'ms');
    figure(
      'rotation_p99_due_to_promoted',
      percentile(
        rows.map((r) => Number(r.ms)),
        99,
      ),
      'ms',
    );
    figure('vault_write_per_s', vaultWrites.perSecond, '/s');
    figure('vault_share_of_floor', (100 * vaultRate) / vaultWrites.perSecond, '%');
    // CPU per operation: the floor's writes and the rotations both spend theirs in one Node process
    // that is the busiest part of the machine, so their ratio bounds the share above.
    figure('service_cpu_per_rotation_local', (localCpu.service * 1000) / local.length, 'ms');
    figure('service_cpu_per_rotation_vault', serviceMsPerVaultRotation, 'ms');
    figure('floor_cpu_per_vault_write', vaultWrites.cpuMsPerWrite, 'ms');
    figure('vault_share_at_equal_cpu', (100 * vaultWrites.cpuMsPerWrite) / serviceMsPerVaultRotation, '%');
    figure('machine_busy_vault', (vaultCpu.machineBusy / vaultCpu.machineTotal) * 100, '%');
    figure('rss_peak', service.peakRssMb(), 'MB');
  } finally {
    await service?.stop();
    await client.end();
    vault.child.kill('SIGTERM');
    // Retirements are still delayed for a day when the run ends: remove them with everything else.
    await deleteRedisPrefix(redisPrefix, REDIS_URL);
    await gateways.close();
    await db.drop();
  }
}

runMain(main, { flag: '--vault-double', serve: serveVaultDouble });
