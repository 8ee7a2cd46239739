import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import type { RawEnv } from '../../src/config/app-config';

const ROOT = join(__dirname, '..', '..');

/** A free TCP port on 127.0.0.1 (bound, read and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface ChildAppOptions {
  /** The app's environment (DATABASE_URL, REDIS_URL, REDIS_PREFIX, ADMIN_TOKEN, LOCAL_STORE_KEY, ROLES, ...). */
  env: RawEnv;
  /** How long startup may take. */
  startTimeoutMs?: number;
  /** Extra node flags (e.g. --prof). */
  nodeArgs?: string[];
}

/**
 * The real service as a separate process (`src/main.ts`, transpiled on the
 * fly with a cache: ts-cache-register.cjs), so
 * tests can SIGKILL a worker mid-job and start another, or a benchmark can
 * keep the app off its own event loop. It runs no migrations unless asked:
 * point it at a database that is already migrated.
 */
export class ChildApp {
  readonly output: string[] = [];
  private exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly baseUrl: string | null,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static async start(options: ChildAppOptions): Promise<ChildApp> {
    const roles = options.env.ROLES ?? 'api,worker,scheduler';
    const port = roles.includes('api') ? Number(options.env.PORT ?? (await freePort())) : 0;
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '-r', join(__dirname, 'ts-cache-register.cjs'), 'src/main.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'test',
        MIGRATIONS_RUN: 'false',
        LOG_LEVEL: 'warn',
        ...options.env,
        ROLES: roles,
        PORT: String(port),
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const app = new ChildApp(child, port ? `http://127.0.0.1:${port}` : null);
    const ready = new Promise<void>((resolve, reject) => {
      // Whole lines only: a chunk can end in the middle of one.
      const onLine = (line: string) => {
        if (line) app.output.push(line);
        if (/Listening on|Running without HTTP/.test(line)) resolve();
      };
      createInterface({ input: child.stdout! }).on('line', onLine);
      createInterface({ input: child.stderr! }).on('line', onLine);
      child.once('exit', (code) =>
        reject(new Error(`child app exited with ${code} before it was ready:\n${app.output.slice(-20).join('\n')}`)),
      );
    });
    let timer: NodeJS.Timeout | undefined;
    const startTimeoutMs = options.startTimeoutMs ?? 120_000;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`child app not ready after ${startTimeoutMs} ms`)), startTimeoutMs);
    });
    try {
      await Promise.race([ready, timeout]);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return app;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Sends a signal (SIGKILL by default: a crash, no shutdown hooks) and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  /**
   * SIGTERM, then waits up to `waitMs` for the process to exit: its exit code
   * and how long that took, or null when it was still running (it is then
   * SIGKILLed, so a test that fails leaves nothing behind).
   */
  async terminate(waitMs: number): Promise<{ code: number | null; elapsedMs: number } | null> {
    const started = performance.now();
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      this.exited,
      new Promise<'running'>((resolve) => (timer = setTimeout(() => resolve('running'), waitMs))),
    ]);
    clearTimeout(timer);
    if (code === 'running') {
      await this.kill('SIGKILL');
      return null;
    }
    return { code, elapsedMs: performance.now() - started };
  }

  /** Graceful stop (SIGTERM), then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
