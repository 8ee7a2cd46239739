import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';

import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { DataSource } from 'typeorm';

import { AppModule } from '../../src/app.module';
import { configureApp, createFastifyAdapter, NEST_APP_OPTIONS } from '../../src/app.setup';
import { Clock, ManualClock } from '../../src/common/clock/clock';
import { AppConfig, RawEnv } from '../../src/config/app-config';
import { loadConfig } from '../../src/config/load-config';
import { TEST_REDIS_URL } from './env';
import { Http } from './http';
import { deleteRedisPrefix } from './redis-prefix';
import { createTestDatabase, dropTestDatabase } from './test-db';

/** Collects every log line the app writes, so tests can search them for secrets. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    callback();
  }

  text(): string {
    return this.lines.join('\n');
  }
}

export interface TestAppOptions {
  env?: RawEnv;
  /** Defaults to api,worker; the scheduler's timers stay off unless asked for. */
  roles?: string;
  clock?: ManualClock;
  overrides?: Array<{ provide: unknown; useValue: unknown }>;
  /** Reuse a database (for restarting an app on the same state). */
  database?: { name: string; url: string };
  /** Runs after configureApp, before the app registers its routes and listens (e.g. to add a Fastify onRoute hook). */
  beforeListen?: (app: NestFastifyApplication) => void;
}

export interface TestApp {
  app: NestFastifyApplication;
  http: Http;
  baseUrl: string;
  config: AppConfig;
  clock: ManualClock;
  adminToken: string;
  logs: LogCapture;
  dataSource: DataSource;
  database: { name: string; url: string };
  redisPrefix: string;
  env: RawEnv;
  /** Stops the app; drops the database and Redis keys unless `keepState`. */
  close(options?: { keepState?: boolean }): Promise<void>;
}

/**
 * Boots the real application (real Postgres, real Redis, real Fastify on a
 * random port) on a database and Redis prefix of its own.
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database = options.database ?? (await createTestDatabase());
  const redisPrefix = options.env?.REDIS_PREFIX ?? `t_${randomBytes(6).toString('hex')}`;
  const adminToken = options.env?.ADMIN_TOKEN ?? `agt_test_admin_${randomBytes(24).toString('hex')}`;
  const env: RawEnv = {
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    DATABASE_POOL_SIZE: '5',
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: redisPrefix,
    ADMIN_TOKEN: adminToken,
    LOCAL_STORE_KEY: randomBytes(32).toString('base64'),
    ROLES: options.roles ?? 'api,worker',
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const config = loadConfig(env);
  const clock = options.clock ?? new ManualClock(new Date());
  const logs = new LogCapture();

  let builder = Test.createTestingModule({ imports: [AppModule.register(config, { logStream: logs })] })
    .overrideProvider(Clock)
    .useValue(clock);
  for (const o of options.overrides ?? []) builder = builder.overrideProvider(o.provide).useValue(o.useValue);
  const moduleRef = await builder.compile();

  const app = moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(config), NEST_APP_OPTIONS);
  configureApp(app);
  options.beforeListen?.(app);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    app,
    http: new Http(baseUrl),
    baseUrl,
    config,
    clock,
    adminToken,
    logs,
    dataSource: app.get(DataSource),
    database,
    redisPrefix,
    env,
    async close(closeOptions = {}) {
      await app.close();
      if (closeOptions.keepState) return;
      await dropTestDatabase(database.name);
      await deleteRedisPrefix(redisPrefix);
    },
  };
}

export { deleteRedisPrefix };
