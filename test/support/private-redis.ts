import { ChildProcess, spawn } from 'node:child_process';

import IORedis from 'ioredis';

import { freePort } from './child-app';

/**
 * A redis-server of our own on a free port, for tests that FLUSHALL or
 * restart Redis: never do that to the shared one other test runs use.
 */
export class PrivateRedis {
  private constructor(
    private readonly server: ChildProcess,
    readonly url: string,
  ) {}

  static async start(): Promise<PrivateRedis> {
    const port = await freePort();
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    const redis = new PrivateRedis(server, `redis://127.0.0.1:${port}`);
    const deadline = performance.now() + 10_000;
    for (;;) {
      const client = new IORedis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await client.connect();
        if ((await client.ping()) === 'PONG') return redis;
      } catch {
        if (performance.now() > deadline) {
          server.kill('SIGKILL');
          throw new Error(`redis-server on port ${port} did not start`);
        }
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        client.disconnect();
      }
    }
  }

  async flushAll(): Promise<void> {
    const client = new IORedis(this.url);
    try {
      await client.flushall();
    } finally {
      client.disconnect();
    }
  }

  async stop(): Promise<void> {
    if (this.server.exitCode !== null || this.server.signalCode !== null) return;
    const exited = new Promise((resolve) => this.server.once('exit', resolve));
    this.server.kill('SIGTERM');
    await exited;
  }
}
