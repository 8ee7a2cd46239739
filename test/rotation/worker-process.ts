import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

import ts from 'typescript';

import type { RawEnv } from '../../src/config/app-config';

const ROOT = join(__dirname, '..', '..');

/**
 * The service's sources transpiled once into a git-ignored directory of the
 * repository (so `node_modules` resolves), the way ts-node's transpile-only
 * mode would, but once per test file instead of once per process start: a
 * test that kills and restarts a worker ten times then starts it in seconds.
 */
export class CompiledApp {
  private constructor(readonly dir: string) {}

  static build(): CompiledApp {
    const dir = join(ROOT, '.local', `test-build-${randomBytes(4).toString('hex')}`);
    const { options } = ts.convertCompilerOptionsFromJson(
      {
        module: 'commonjs',
        target: 'ES2022',
        emitDecoratorMetadata: true,
        experimentalDecorators: true,
        useDefineForClassFields: false,
        esModuleInterop: true,
      },
      ROOT,
    );
    for (const top of ['src', 'migrations']) {
      for (const file of tsFiles(join(ROOT, top))) {
        const out = join(dir, relative(ROOT, file)).replace(/\.ts$/, '.js');
        mkdirSync(dirname(out), { recursive: true });
        writeFileSync(out, ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: options, fileName: file }).outputText);
      }
    }
    return new CompiledApp(dir);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** The service as a worker process (no HTTP; `worker` role unless told, e.g. `worker,scheduler`) that a test can SIGKILL mid-job. */
export class WorkerProcess {
  readonly output: string[] = [];
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static async start(app: CompiledApp, env: RawEnv, timeoutMs = 60_000, roles = 'worker'): Promise<WorkerProcess> {
    const child = spawn(process.execPath, [join(app.dir, 'src', 'main.js')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, NODE_ENV: 'test', MIGRATIONS_RUN: 'false', LOG_LEVEL: 'warn', ...env, ROLES: roles },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const worker = new WorkerProcess(child);
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          const text = chunk.toString();
          worker.output.push(...text.split('\n').filter(Boolean));
          if (text.includes('Running without HTTP')) resolve();
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', onData);
        child.once('exit', (code) =>
          reject(new Error(`worker exited with ${code} before it was ready:\n${worker.output.slice(-20).join('\n')}`)),
        );
        timer = setTimeout(() => reject(new Error(`worker not ready after ${timeoutMs} ms`)), timeoutMs);
      });
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return worker;
  }

  /** SIGKILL: a crash, no shutdown hooks. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}
