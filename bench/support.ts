/** Shared pieces of the benchmark scripts: a database of their own, the service as a child process, figures. */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { runMigrations } from '../src/common/db/run-migrations';

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

/** The node flags `npm run start:prod` runs the service with, so benchmarks measure the same process. */
export function serviceNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  return pkg.scripts['start:prod'].split(' ').filter((part) => part.startsWith('--'));
}

/** Starts the compiled service (dist/, built by the npm script) as `npm run start:prod` does, with the given environment. */
export async function startService(env: Record<string, string>): Promise<Service> {
  const nodeArgs = [...serviceNodeFlags(), ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const child = spawn(process.execPath, [...nodeArgs, join(__dirname, '..', 'dist', 'src', 'main.js')], {
    env: { PATH: process.env.PATH!, HOME: process.env.HOME!, PORT: '0', MIGRATIONS_RUN: 'false', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
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
export async function steadyLoad(
  rate: number,
  durationS: number,
  send: () => Promise<Response>,
): Promise<SteadyLoadResult> {
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
          const response = await send();
          await response.arrayBuffer();
          if (response.status >= 300) failed += 1;
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
