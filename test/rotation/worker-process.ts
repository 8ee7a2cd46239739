import { ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

import type * as TypeScript from 'typescript';

import type { RawEnv } from '../../src/config/app-config';

const ROOT = join(__dirname, '..', '..');

const COMPILER_OPTIONS = {
  module: 'commonjs',
  target: 'ES2022',
  emitDecoratorMetadata: true,
  experimentalDecorators: true,
  useDefineForClassFields: false,
  esModuleInterop: true,
};
/** Transpiled files by content, shared by every test file and run (the directory test/support/ts-cache-register.cjs uses too). */
const CACHE_DIR = join(tmpdir(), 'agc-ts-cache');

/**
 * The service's sources transpiled once into a git-ignored directory of the
 * repository (so `node_modules` resolves), the way ts-node's transpile-only
 * mode would, but once per test file instead of once per process start: a
 * test that kills and restarts a worker ten times then starts it in seconds.
 * Each file's output is cached by its content, so a build after the first
 * only copies, and TypeScript is loaded only when a file changed.
 */
export class CompiledApp {
  private constructor(readonly dir: string) {}

  static build(): CompiledApp {
    const dir = join(ROOT, '.local', `test-build-${randomBytes(4).toString('hex')}`);
    let compile: ((source: string, fileName: string) => string) | undefined;
    mkdirSync(CACHE_DIR, { recursive: true });
    for (const top of ['src', 'migrations']) {
      for (const file of tsFiles(join(ROOT, top))) {
        const source = readFileSync(file, 'utf8');
        const key = createHash('sha256').update(`compiled-app-v1\0${file}\0${source}`).digest('hex');
        const cached = join(CACHE_DIR, `${key}.js`);
        let output: string;
        try {
          output = readFileSync(cached, 'utf8');
        } catch {
          compile ??= compiler();
          output = compile(source, file);
          const temporary = `${cached}.${process.pid}.tmp`;
          writeFileSync(temporary, output);
          renameSync(temporary, cached);
        }
        const out = join(dir, relative(ROOT, file)).replace(/\.ts$/, '.js');
        mkdirSync(dirname(out), { recursive: true });
        writeFileSync(out, output);
      }
    }
    return new CompiledApp(dir);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** TypeScript's transpile-only compile; TypeScript itself (seconds to load in a test's module registry) only on a cache miss. */
function compiler(): (source: string, fileName: string) => string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof TypeScript;
  const { options } = ts.convertCompilerOptionsFromJson(COMPILER_OPTIONS, ROOT);
  return (source, fileName) => ts.transpileModule(source, { compilerOptions: options, fileName }).outputText;
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
