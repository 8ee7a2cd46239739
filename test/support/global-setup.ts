import { randomBytes } from 'node:crypto';

import { Client } from 'pg';

import { runMigrations } from '../../src/common/db/run-migrations';
import { databaseUrl, TEMPLATE_DB_ENV, TEST_PG_URL } from './env';

/**
 * Once per jest run: create a template database and run every migration on it.
 * Each e2e file then clones it (CREATE DATABASE ... TEMPLATE), which is much
 * faster than migrating per file, and the migrations are still exercised.
 * The name is unique per run, so concurrent runs on one machine never collide.
 */
export default async function globalSetup(): Promise<void> {
  const name = `agc_tpl_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  await runMigrations(databaseUrl(name));
  process.env[TEMPLATE_DB_ENV] = name;
}
