import { randomBytes } from 'node:crypto';

import { Client } from 'pg';

import { databaseUrl, TEMPLATE_DB_ENV, TEST_PG_URL } from './env';

async function withAdmin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The prefix of every database this run's files clone: the template's name, so the global teardown finds them. */
export function runDatabasePrefix(template: string): string {
  return `${template.replace(/^agc_tpl_/, 'agc_t_')}_`;
}

function template(): string {
  const name = process.env[TEMPLATE_DB_ENV];
  if (!name) throw new Error('the jest global setup did not create a template database');
  return name;
}

/** A fresh, migrated database for one test file, cloned from the run's template. */
export async function createTestDatabase(): Promise<{ name: string; url: string }> {
  const from = template();
  const name = `${runDatabasePrefix(from)}${randomBytes(5).toString('hex')}`;
  await withAdmin(async (client) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${name} TEMPLATE ${from}`);
        return;
      } catch (error) {
        // Two clones starting in the same instant can see each other on the template.
        if (attempt < 20 && /being accessed by other users/.test((error as Error).message)) {
          await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
          continue;
        }
        throw error;
      }
    }
  });
  return { name, url: databaseUrl(name) };
}

/**
 * Done with a database. One this run cloned is left to the global teardown
 * (test/support/global-teardown.ts), which drops them all at once: a DROP
 * DATABASE takes 0.4–2 s here (it waits for every backend to release the
 * files), and paid at the end of each of about a hundred files it added
 * tens of seconds to `npm test`. Any other database is dropped now.
 */
export async function dropTestDatabase(name: string): Promise<void> {
  const ours = process.env[TEMPLATE_DB_ENV];
  if (ours && name.startsWith(runDatabasePrefix(ours))) return;
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** Drops every database this run cloned (`concurrency` at a time: drops overlap well), then the template. */
export async function dropRunDatabases(template: string, concurrency = 8): Promise<void> {
  const names = await withAdmin(async (client) => {
    const rows = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, [
      runDatabasePrefix(template),
    ]);
    return rows.rows.map((row) => row.datname);
  });
  const queue = [...names];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
      for (let name = queue.shift(); name; name = queue.shift()) {
        await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      }
    }),
  );
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`));
}
