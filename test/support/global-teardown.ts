import { TEMPLATE_DB_ENV } from './env';
import { dropRunDatabases } from './test-db';

/** Drops the template and every database the run's files cloned from it (test/support/test-db.ts). */
export default async function globalTeardown(): Promise<void> {
  const name = process.env[TEMPLATE_DB_ENV];
  if (!name) return;
  await dropRunDatabases(name);
}
