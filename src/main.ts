import 'reflect-metadata';

import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

import { AppModule } from './app.module';
import { configureApp, createFastifyAdapter, NEST_APP_OPTIONS } from './app.setup';
import { ensureDatabase } from './common/db/ensure-database';
import { runMigrations } from './common/db/run-migrations';
import { ShutdownSequence } from './common/shutdown/shutdown-sequence';
import type { GeneratedDevSecrets } from './config/app-config';
import { loadOrCreateDevSecrets } from './config/dev-secrets';
import { ConfigError, loadConfig, localSecretsFilePath, needsDevSecrets } from './config/load-config';

/**
 * Startup: validate configuration (one line on error), create the database if
 * missing, run pending migrations, then serve. Startup output goes to stderr as
 * plain lines because the structured logger does not exist yet.
 */
async function bootstrap(): Promise<void> {
  let devSecrets: GeneratedDevSecrets | undefined;
  if (needsDevSecrets(process.env)) {
    const file = loadOrCreateDevSecrets(localSecretsFilePath(process.env));
    devSecrets = file.secrets;
    process.stderr.write(
      `${file.created ? 'Generated' : 'Using'} development ADMIN_TOKEN and LOCAL_STORE_KEY in ${file.path} (git-ignored; set both variables in production)\n`,
    );
  }
  const config = loadConfig(process.env, devSecrets);

  if (config.roles.includes('api') || config.database.migrationsRun) {
    const { created, database } = await ensureDatabase(config.database.url);
    if (created) process.stderr.write(`Created database ${database}\n`);
  }
  if (config.database.migrationsRun) {
    const applied = await runMigrations(config.database.url);
    if (applied.length) process.stderr.write(`Applied migrations: ${applied.join(', ')}\n`);
  }

  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(config), createFastifyAdapter(config), NEST_APP_OPTIONS);
  configureApp(app);
  stopOnSignals(app, config.shutdown.timeoutMs);
  if (config.roles.includes('api')) {
    await app.listen(config.http.port, config.http.host);
    const address = app.getHttpServer().address();
    const port = typeof address === 'object' && address ? address.port : config.http.port;
    process.stderr.write(`Listening on http://${config.http.host}:${port} (roles: ${config.roles.join(',')})\n`);
  } else {
    await app.init();
    process.stderr.write(`Running without HTTP (roles: ${config.roles.join(',')})\n`);
  }
}

/**
 * SIGTERM or SIGINT: app.close() runs the shutdown sequence (HTTP, workers,
 * flush, connections; src/common/shutdown/shutdown-sequence.ts), which bounds
 * itself and logs one line; then the process exits, 0 when nothing was
 * abandoned, 1 otherwise. The timer is the last resort for a Nest hook
 * outside the sequence that never returns. A second signal changes nothing.
 */
function stopOnSignals(app: NestFastifyApplication, timeoutMs: number): void {
  const sequence = app.get(ShutdownSequence);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    sequence.begin();
    setTimeout(() => {
      process.stderr.write(`shutdown: Nest's shutdown hooks did not return within ${timeoutMs} ms; exiting\n`);
      process.exit(1);
    }, timeoutMs);
    app.close().then(
      async () => process.exit((await sequence.stop()).abandoned.length ? 1 : 0),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

bootstrap().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`Configuration error: ${error.message}\n`);
  } else {
    const code = (error as { code?: string }).code;
    const message =
      code === 'ECONNREFUSED'
        ? `cannot reach a dependency (${(error as Error).message}); is PostgreSQL/Redis running?`
        : (error as Error).message;
    process.stderr.write(`Startup failed: ${message}\n`);
  }
  process.exit(1);
});
