/** Shared pieces of the benchmark scripts: a database of their own, the service as a child process, figures. */
import { ChildProcess, spawn } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { Client } from 'pg';

import { TOKEN_BY_SHA256 } from '../src/auth/tokens.repository';
import { runMigrations } from '../src/common/db/run-migrations';
import { CREDENTIAL_BY_ID } from '../src/inventory/credentials.repository';
import { copyCredentials as copyRows } from '../test/support/credential-copies';

export const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function databaseUrl(name: string): string {
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated database; dropped by the returned function. */
export async function freshDatabase(prefix: string): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  await runMigrations(databaseUrl(name));
  return { name, url: databaseUrl(name), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

export interface Service {
  child: ChildProcess;
  baseUrl: string;
  /** Peak resident set size of the service process so far (VmHWM), in MB. */
  peakRssMb(): number;
  stop(): Promise<void>;
}

/**
 * The service's settings for a benchmark run, as in production: its database, a
 * Redis prefix of its own, the admin token and a fresh local store key; `env`
 * adds to them or overrides them.
 */
export function serviceEnv(databaseUrl: string, adminToken: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    REDIS_PREFIX: `bench_${randomBytes(4).toString('hex')}`,
    ADMIN_TOKEN: adminToken,
    LOCAL_STORE_KEY: randomBytes(32).toString('base64'),
    ...env,
  };
}

/**
 * Runs a benchmark's main; a failure is printed and the process exits 1. A
 * script that also serves doubles in a child of its own (see startOwnChild)
 * names the flag that child is started with and what it runs instead.
 */
export function runMain(main: () => Promise<void>, child?: { flag: string; serve: () => Promise<void> }): void {
  if (child && process.argv.includes(child.flag)) {
    void child.serve();
    return;
  }
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

/**
 * Runs `script` again in a child process with `flag`, where it serves its
 * doubles and prints one JSON line about them (their addresses); returns the
 * child with what that line says.
 */
export async function startOwnChild<T extends object>(script: string, flag: string): Promise<{ child: ChildProcess } & T> {
  const child = spawn(process.execPath, [...process.execArgv, script, flag], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.once('exit', (code) => reject(new Error(`${script} ${flag} exited with ${code}`)));
  });
  return { child, ...(JSON.parse(line) as T) };
}

/** The node flags `npm run start:prod` runs the service with, so benchmarks measure the same process. */
export function serviceNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  return pkg.scripts['start:prod'].split(' ').filter((part) => part.startsWith('--'));
}

/**
 * Starts the compiled service (dist/, built by the npm script) as `npm run start:prod` does, with the given environment;
 * `main` names another build's entry point (a before/after comparison).
 */
export async function startService(env: Record<string, string>, main = join(__dirname, '..', 'dist', 'src', 'main.js')): Promise<Service> {
  const nodeArgs = [...serviceNodeFlags(), ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const child = spawn(process.execPath, [...nodeArgs, main], {
    env: { PATH: process.env.PATH!, HOME: process.env.HOME!, PORT: '0', MIGRATIONS_RUN: 'false', ...env },
    stdio: ['ignore', process.env.BENCH_SERVICE_STDOUT ? openSync(process.env.BENCH_SERVICE_STDOUT, 'w') : 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d.toString()));
  const deadline = Date.now() + 30_000;
  let port: string | undefined;
  while (!port) {
    port = /Listening on http:\/\/[^:]+:(\d+)/.exec(stderr)?.[1];
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`service did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    baseUrl: `http://127.0.0.1:${port}`,
    peakRssMb() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
      return kb / 1024;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Prints one figure per line as `name: value unit`. */
export function figure(name: string, value: number, unit: string): void {
  const rounded = value >= 100 ? Math.round(value) : Math.round(value * 100) / 100;
  process.stdout.write(`${name}: ${rounded} ${unit}\n`);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

export interface SteadyLoadResult {
  sent: number;
  failed: number;
  latenciesMs: number[];
}

/**
 * Open-loop load at a steady rate: requests start at evenly spaced instants
 * whatever the previous ones are doing (autocannon's rate limit sends each
 * second's quota in a burst, which measures its own queue, not the service).
 */
export async function steadyLoad(rate: number, durationS: number, send: () => Promise<number>): Promise<SteadyLoadResult> {
  const total = Math.round(rate * durationS);
  const intervalMs = 1000 / rate;
  const latenciesMs: number[] = [];
  let failed = 0;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(
      (async () => {
        const t0 = performance.now();
        try {
          const status = await send();
          if (status >= 300) failed += 1;
          else latenciesMs.push(performance.now() - t0);
        } catch {
          failed += 1;
        }
      })(),
    );
  }
  await Promise.all(inFlight);
  latenciesMs.sort((a, b) => a - b);
  return { sent: total, failed, latenciesMs };
}

export interface SeededInventory {
  ownerIds: string[];
  agentIds: string[];
  /** A random sample of 5,000 credential ids. */
  credentialIds: string[];
  /** The product every seeded scope names. */
  product: string;
}

/**
 * Seeds an inventory in bulk with set-based SQL: owners, agents, and
 * credentials spread over a year of creation times with a realistic mix of
 * scopes (some delete/admin), allowlists, rate limits and last use. The
 * secrets are not written (the rows only point at them): benchmarks that read
 * secrets seed their own.
 */
export async function seedInventory(
  url: string,
  options: { credentials: number; owners: number; agentsPerOwner: number },
): Promise<SeededInventory> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const now = new Date().toISOString();
    await client.query(
      `INSERT INTO products (id, name, operations, created_at) VALUES ($1, 'customers', ARRAY['read','write','delete','admin'], $2)`,
      [randomUUID(), now],
    );
    await client.query(
      `INSERT INTO owners (id, name, email, kind, created_at, updated_at)
       SELECT gen_random_uuid(), 'owner ' || i, 'owner' || i || '@example.com', 'team', $1, $1 FROM generate_series(1, $2) i`,
      [now, options.owners],
    );
    await client.query(
      `INSERT INTO agents (id, name, owner_id, status, created_at, updated_at)
       SELECT gen_random_uuid(), 'agent ' || a, o.id, 'active', $1, $1 FROM owners o, generate_series(1, $2) a`,
      [now, options.agentsPerOwner],
    );
    await client.query(
      `INSERT INTO credentials (id, client_id, agent_id, owner_id, type, environment, scopes, rate_limit_requests,
         rate_limit_per_seconds, ip_allowlist, secret_store, secret_ref, secret_version, secret_version_id, secret_sha256,
         secret_delivered_version, status, rotation_interval_days, grace_period_hours, next_rotation_at, last_used_at,
         requested_by, created_at, updated_at)
       SELECT id, 'agc_' || replace(id::text, '-', ''), agent_id, owner_id, 'api_key',
              CASE WHEN n % 2 = 0 THEN 'production' ELSE 'sandbox' END,
              CASE n % 4 WHEN 0 THEN ARRAY['customers:read'] WHEN 1 THEN ARRAY['customers:read','customers:write']
                         WHEN 2 THEN ARRAY['customers:read','customers:delete'] ELSE ARRAY['customers:admin'] END,
              CASE WHEN n % 50 = 0 THEN 100000 ELSE 100 END, CASE WHEN n % 50 = 0 THEN 1 ELSE 60 END,
              CASE WHEN n % 3 = 0 THEN ARRAY['10.0.0.0/8'] ELSE ARRAY[]::text[] END,
              'local', 'local:' || id, 1, '1', md5(id::text) || md5(n::text), 1, 'active', 90, 24,
              created + interval '90 days',
              CASE WHEN n % 5 = 0 THEN NULL ELSE now() - (random() * interval '60 days') END,
              'bench', created, created
       FROM (SELECT gen_random_uuid() AS id, a.id AS agent_id, a.owner_id, n,
                    now() - (random() * interval '365 days') AS created
             FROM generate_series(1, $1) n
             JOIN (SELECT id, owner_id, (row_number() OVER ()) - 1 AS idx FROM agents) a ON a.idx = n % $2::int) s`,
      [options.credentials, options.owners * options.agentsPerOwner],
    );
    // A long-lived inventory is vacuumed: set hint bits and the visibility map
    // now, or the first reads of each page pay for it during the measurement.
    await client.query('VACUUM ANALYZE');
    const owners = await client.query('SELECT id FROM owners');
    const agents = await client.query('SELECT id FROM agents');
    const credentials = await client.query('SELECT id FROM credentials ORDER BY random() LIMIT 5000');
    return {
      ownerIds: owners.rows.map((r) => r.id),
      agentIds: agents.rows.map((r) => r.id),
      credentialIds: credentials.rows.map((r) => r.id),
      product: 'customers',
    };
  } finally {
    await client.end();
  }
}

/** A bare node:http server in a child process answering fixed bodies by path: the floor for HTTP latency here. */
export function startBareServer(bodies: Record<string, string>): Promise<ScriptServer> {
  const script = `
    const bodies = JSON.parse(process.env.BODIES);
    const server = require('node:http').createServer((req, res) => {
      const body = bodies[req.url];
      const bytes = Buffer.from(body ?? '');
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/json', 'content-length': bytes.length }).end(bytes);
    });
    server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
  `;
  return startScriptServer(script, { BODIES: JSON.stringify(bodies) });
}

/**
 * A bare node:http server in a child process that answers GET /<credential id>
 * as the service's single-credential GET does its I/O, and nothing else: the
 * bearer token's SHA-256 looked up, then the credential row read, with the
 * service's own prepared statements on a pg pool, and the row sent as JSON.
 * The floor for a GET that makes these two round trips to Postgres here; what
 * the service adds above it is its own work (framework, validation, logging).
 */
export function startBareDbServer(databaseUrl: string): Promise<ScriptServer> {
  const script = `
    const { createHash } = require('node:crypto');
    const { Pool } = require(process.env.PG_MODULE);
    const { token, credential } = JSON.parse(process.env.STATEMENTS);
    const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
    const server = require('node:http').createServer(async (req, res) => {
      const presented = /^Bearer\\s+(\\S+)\\s*$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const actor = await pool.query({ ...token, values: [createHash('sha256').update(presented).digest('hex')] });
      const rows = actor.rows.length === 0 ? [] : (await pool.query({ ...credential, values: [req.url.slice(1)] })).rows;
      const bytes = Buffer.from(rows.length === 0 ? '' : JSON.stringify(rows[0]));
      res.writeHead(rows.length === 0 ? 404 : 200, { 'content-type': 'application/json', 'content-length': bytes.length }).end(bytes);
    });
    server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
  `;
  return startScriptServer(script, {
    DATABASE_URL: databaseUrl,
    PG_MODULE: require.resolve('pg'),
    STATEMENTS: JSON.stringify({ token: TOKEN_BY_SHA256, credential: CREDENTIAL_BY_ID }),
  });
}

export interface ScriptServer {
  baseUrl: string;
  pid: number;
  stop: () => void;
}

/** Runs a server script in a node process of its own; the script prints its port on stdout once it listens. */
/** A server written as a script, in a process of its own (the first line it prints is its port). */
export function startScriptServerPublic(script: string, env: Record<string, string>): Promise<ScriptServer> {
  return startScriptServer(script, env);
}

async function startScriptServer(script: string, env: Record<string, string>): Promise<ScriptServer> {
  const child = spawn(process.execPath, ['-e', script], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', () => reject(new Error('the server script exited before it listened')));
  });
  return { baseUrl: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => child.kill() };
}

/** CPU seconds used so far, per part of this machine, read from /proc (Linux). */
export interface CpuSample {
  /** Every PostgreSQL process: backends of every database and the server's own (WAL writer, checkpointer...). */
  postgres: number;
  /** Every redis-server process. */
  redis: number;
  /** Processes whose pid is given (the service). */
  service: number;
  /** This benchmark process: the load generator and, where it runs them, the receivers. */
  bench: number;
  /**
   * The kernel's memory monitor (DAMON's kdamond threads), where the machine runs one:
   * it wakes every sampling interval and takes a core for some milliseconds.
   */
  kdamond: number;
  /** The whole machine: busy and total CPU seconds over all cores since boot. */
  machineBusy: number;
  machineTotal: number;
  /** Each counted process's CPU seconds, so that a delta subtracts only what the same process used before. */
  byPid: Map<string, { part: ProcessPart; seconds: number }>;
}

type ProcessPart = 'postgres' | 'redis' | 'service' | 'kdamond';

const CLOCK_TICKS_PER_S = 100; // USER_HZ on Linux

/** A file of /proc/<pid>, or '' if the process exited between listing and reading. */
function procFile(pid: string, file: 'stat' | 'cmdline' | 'comm'): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return '';
  }
}

function procCpuSeconds(pid: string): number {
  const stat = procFile(pid, 'stat');
  if (!stat) return 0;
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

/**
 * Where the machine's CPU went: sample before and after a run and subtract
 * (`cpuDelta`). A process that exits inside the window takes its CPU with it,
 * so the parts are lower bounds; machineBusy counts everything.
 */
export function sampleCpu(servicePids: number[]): CpuSample {
  const own = process.cpuUsage();
  const byPid = new Map<string, { part: ProcessPart; seconds: number }>();
  const services = new Set(servicePids.map(String));
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const part = partOf(pid, services);
    if (part) byPid.set(pid, { part, seconds: procCpuSeconds(pid) });
  }
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  return {
    ...sumParts(byPid),
    bench: (own.user + own.system) / 1e6,
    machineTotal: total / CLOCK_TICKS_PER_S,
    machineBusy: (total - cpu[3] - cpu[4]) / CLOCK_TICKS_PER_S,
    byPid,
  };
}

function partOf(pid: string, services: Set<string>): ProcessPart | null {
  if (services.has(pid)) return 'service';
  const command = procFile(pid, 'cmdline').split('\0')[0];
  if (/(^|\/)postgres(:|$)|^postgres: /.test(command)) return 'postgres';
  if (/redis-server/.test(command)) return 'redis';
  if (command === '' && procFile(pid, 'comm').startsWith('kdamond')) return 'kdamond';
  return null;
}

/** CPU seconds per part. */
function sumParts(byPid: CpuSample['byPid']): Record<ProcessPart, number> {
  const parts: Record<ProcessPart, number> = { postgres: 0, redis: 0, service: 0, kdamond: 0 };
  for (const { part, seconds } of byPid.values()) parts[part] += seconds;
  return parts;
}

/** What each process used between two samples; one that started since counts from 0. */
export function cpuDelta(before: CpuSample, after: CpuSample): CpuSample {
  const byPid: CpuSample['byPid'] = new Map();
  for (const [pid, { part, seconds }] of after.byPid) byPid.set(pid, { part, seconds: seconds - (before.byPid.get(pid)?.seconds ?? 0) });
  return {
    ...sumParts(byPid),
    bench: after.bench - before.bench,
    machineBusy: after.machineBusy - before.machineBusy,
    machineTotal: after.machineTotal - before.machineTotal,
    byPid,
  };
}

/** One event a receiver got: a body's own event, or one element of a batched body. */
export interface ReceivedEvent {
  id?: string;
  type: string;
  data: Record<string, any>;
}

/**
 * Local webhook receivers standing in for gateways: each acknowledges at once
 * (204) on a kept-alive connection and hands every event it got to `onEvent`
 * with the moment it was answered; a batched body (`{"type":"batch","events":[...]}`,
 * docs/delivery.md "Batched bodies") is handed over event by event.
 */
export class WebhookReceivers {
  private constructor(
    readonly servers: http.Server[],
    readonly urls: string[],
  ) {}

  static async start(count: number, onEvent: (event: ReceivedEvent, receiver: number, at: number) => void = () => undefined) {
    const servers = Array.from({ length: count }, (_, index) => {
      const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          res.writeHead(204).end();
          const at = performance.now();
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReceivedEvent & { events?: ReceivedEvent[] };
          for (const event of body.type === 'batch' ? body.events! : [body]) onEvent(event, index, at);
        });
      });
      server.keepAliveTimeout = 60_000;
      return server;
    });
    const urls = await Promise.all(
      servers.map(async (server) => {
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        return `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
      }),
    );
    return new WebhookReceivers(servers, urls);
  }

  async close(): Promise<void> {
    for (const server of this.servers) server.closeAllConnections();
    await Promise.all(this.servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** One POST signed as the service signs webhooks (Standard Webhooks, HMAC-SHA256), on `agent`'s kept-alive connections. */
export function signedPost(agent: http.Agent, url: string, key: Buffer, body: string): Promise<void> {
  const id = randomBytes(8).toString('hex');
  const ts = Math.floor(Date.now() / 1000);
  const signature = `v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}`;
  return new Promise<void>((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature },
      },
      (res) => {
        res.resume();
        res.on('end', resolve);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `count` signed POSTs of `body` spread over `urls`, `inFlight` at a time, from this process: seconds. */
export async function floorSignedPosts(urls: string[], count: number, body: string, inFlight = 64): Promise<number> {
  const key = randomBytes(32);
  const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(inFlight, count) }, async () => {
      while (next < count) {
        const n = next++;
        await signedPost(agent, urls[n % urls.length], key, body);
      }
    }),
  );
  agent.destroy();
  return (performance.now() - t0) / 1000;
}

/** A process's resident set now (VmRSS) or at its peak (VmHWM), in MB; 0 once it is gone. */
export function processMemoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** JSON call to the service with a bearer token; throws on a status of 300 or more. */
export async function apiCall(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Runs `work` over `items`, `lanes` at a time, each lane taking the next item when it is done. */
export async function inLanes<T>(items: T[], lanes: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

/**
 * `count` more credentials copied in SQL from one issued through the API
 * (same agent, owner, scopes; secret references of their own, never read):
 * an inventory to revoke in bulk without issuing it call by call.
 */
export async function copyCredentials(client: Client, templateId: string, count: number): Promise<void> {
  await copyRows(client, templateId, count);
  await client.query('VACUUM ANALYZE credentials');
}
