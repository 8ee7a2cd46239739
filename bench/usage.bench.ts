/**
 * npm run bench:usage
 *
 * Ingestion through POST /v1/usage: a gateway reports batches of 1,000 events
 * (100 credentials, 20 scopes of calls, 50 addresses) at concurrency 4 for
 * BENCH_SECONDS (20); the figure counts events from the first request until the
 * service has written every accepted event to the per-call table (rollups and
 * lastUsedAt in the same flushes). The service runs as a child process (api and
 * scheduler roles) on a database and Redis prefix of its own.
 *
 * Figures, one per line, `name: value unit`:
 *   usage_events_per_s          accepted and written, end to end
 *   floor_insert_rows_per_s     a bare multi-row INSERT (unnest) of rows of the same shape into the
 *                               same partitioned table, through the same driver (pg), batches of 1,000,
 *                               one connection after another, measured in the same run
 *   usage_ratio_to_floor        the first over the second (target: at least 0.5, and usage_events_per_s at least 20,000)
 *   floor_copy_rows_per_s       the same rows through COPY FROM STDIN (pg-copy-streams), batches of 1,000: how the
 *                               service writes them since it stopped using INSERT, so the stricter floor
 *   usage_ratio_to_copy_floor   usage_events_per_s over floor_copy_rows_per_s
 *   rss_peak                    the service's peak resident set (VmHWM) (target: at most 300 MB)
 *   usage_service_cpu_per_1k_events  the service's CPU time (user + system) over the ingestion, per 1,000 events
 *                               accepted: steadier than the rates on a shared machine
 *
 * Then campaign_open_s and its floor (bench/usage-campaign.ts) and
 * alert_latency_p99 (bench/usage-alerts.ts), each on a service of its own.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

import { figure, freshDatabase, runMain, serviceEnv, startService } from './support';
import { alertLatency } from './usage-alerts';
import { campaignOpenWithUsage } from './usage-campaign';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const BATCH = 1000;
const CREDENTIALS = 100;
const COPY_SQL = `COPY usage_events (id, at, credential_id, client_id, owner_id, source, gateway_id, method, path, scope,
                                      status_code, ip, request_id, outcome, deny_code) FROM STDIN`;

async function main(): Promise<void> {
  const db = await freshDatabase('bench_usage');
  const adminToken = randomBytes(24).toString('base64url');
  const service = await startService(serviceEnv(db.url, adminToken, { ROLES: 'api,scheduler' }));
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  try {
    const call = async (method: string, path: string, body: unknown, token = adminToken) => {
      const r = await fetch(`${service.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await r.text();
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${text}`);
      return JSON.parse(text) as any;
    };
    const owner = await call('POST', '/v1/owners', { name: 'bench', email: 'bench@example.com', kind: 'team' });
    await call('POST', '/v1/products', { name: 'orders', operations: ['read', 'write'] });
    const agent = await call('POST', '/v1/agents', { name: 'bench-agent', ownerId: owner.id });
    const credentials: string[] = [];
    for (let i = 0; i < CREDENTIALS; i++) {
      const made = await call('POST', '/v1/credentials', {
        agentId: agent.id,
        type: 'api_key',
        environment: 'production',
        scopes: ['orders:read', 'orders:write'],
        rateLimit: { requests: 100, perSeconds: 60 },
      });
      credentials.push(made.credential.id);
    }
    const gateway = await call('POST', '/v1/gateways', { name: 'bench-gw', url: 'http://127.0.0.1:9/hook', environments: ['production'] });
    const gatewayToken = (await call('POST', '/v1/tokens', { name: 'bench-gw', role: 'gateway', gatewayId: gateway.gateway.id }))
      .token as string;

    let n = 0;
    const batch = () =>
      Array.from({ length: BATCH }, () => {
        n++;
        return {
          credentialId: credentials[n % CREDENTIALS],
          at: new Date().toISOString(),
          method: 'GET',
          path: `/orders/${n % 997}`,
          scope: n % 2 ? 'orders:read' : 'orders:write',
          statusCode: n % 50 ? 200 : 403,
          ip: `198.51.100.${n % 50}`,
          requestId: `r${n}`,
          outcome: n % 50 ? 'allowed' : 'denied',
          ...(n % 50 ? {} : { denyCode: 'SCOPE_DENIED' }),
        };
      });

    const before = Number((await pg.query(`SELECT count(*) AS n FROM usage_events`)).rows[0].n);
    const cpuBefore = cpuSeconds(service.child.pid!);
    let accepted = 0;
    const started = Date.now();
    const stopAt = started + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (Date.now() < stopAt) {
          const answer = await call('POST', '/v1/usage', { events: batch() }, gatewayToken);
          accepted += answer.accepted as number;
        }
      }),
    );
    for (;;) {
      const written = Number((await pg.query(`SELECT count(*) AS n FROM usage_events`)).rows[0].n) - before;
      if (written >= accepted) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const usagePerS = accepted / ((Date.now() - started) / 1000);
    const cpuPerKiloEvent = ((cpuSeconds(service.child.pid!) - cpuBefore) / accepted) * 1000 * 1000;

    // The floor: the same rows, the same table, the same driver, bare.
    const rows = Array.from({ length: BATCH }, (_, i) => [
      randomUUID(),
      new Date(),
      credentials[i % CREDENTIALS],
      `client-${i % CREDENTIALS}`,
      owner.id,
      'gateway',
      gateway.gateway.id,
      'GET',
      `/orders/${i % 997}`,
      i % 2 ? 'orders:read' : 'orders:write',
      i % 50 ? 200 : 403,
      `198.51.100.${i % 50}`,
      `r${i}`,
      i % 50 ? 'allowed' : 'denied',
      i % 50 ? null : 'SCOPE_DENIED',
    ]);
    const column = (k: number) => rows.map((r) => (k === 0 ? randomUUID() : r[k]));
    let floorRows = 0;
    const floorStart = Date.now();
    while (Date.now() - floorStart < 5000) {
      await pg.query(
        `INSERT INTO usage_events (id, at, credential_id, client_id, owner_id, source, gateway_id, method, path, scope,
                                   status_code, ip, request_id, outcome, deny_code)
         SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[], $5::uuid[], $6::text[], $7::uuid[],
                              $8::text[], $9::text[], $10::text[], $11::int[], $12::text[], $13::text[], $14::text[], $15::text[])`,
        Array.from({ length: 15 }, (_, k) => column(k)),
      );
      floorRows += BATCH;
    }
    const floorPerS = floorRows / ((Date.now() - floorStart) / 1000);

    // The same rows again through COPY FROM STDIN, the way the service writes them (src/usage/usage-events.repository.ts).
    let copyRows = 0;
    const copyStart = Date.now();
    while (Date.now() - copyStart < 5000) {
      const text = rows
        .map((r) =>
          [randomUUID(), ...r.slice(1).map((v) => (v === null ? '\\N' : v instanceof Date ? v.toISOString() : String(v)))].join('\t'),
        )
        .join('\n');
      const copy = pg.query(copyFrom(COPY_SQL));
      await pipeline(Readable.from([`${text}\n`]), copy);
      copyRows += BATCH;
    }
    const copyFloorPerS = copyRows / ((Date.now() - copyStart) / 1000);

    figure('usage_events_per_s', usagePerS, 'events/s');
    figure('floor_insert_rows_per_s', floorPerS, 'rows/s');
    figure('usage_ratio_to_floor', usagePerS / floorPerS, 'ratio');
    figure('floor_copy_rows_per_s', copyFloorPerS, 'rows/s');
    figure('usage_ratio_to_copy_floor', usagePerS / copyFloorPerS, 'ratio');
    figure('rss_peak', service.peakRssMb(), 'MB');
    figure('usage_service_cpu_per_1k_events', cpuPerKiloEvent, 'ms');
  } finally {
    await pg.end();
    await service.stop();
    await db.drop();
  }
  await campaignOpenWithUsage();
  await alertLatency();
}

/** CPU time (user and system) a process has used so far, in seconds (/proc/<pid>/stat, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

runMain(main);
