import { Client } from 'pg';

/**
 * Creates the database named in the URL if it does not exist, connecting to the
 * server's `postgres` database to do so. Lets `npm start` work on a fresh machine.
 */
export async function ensureDatabase(url: string): Promise<{ created: boolean; database: string }> {
  const target = new URL(url);
  const database = decodeURIComponent(target.pathname.replace(/^\//, '')) || 'postgres';
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount) return { created: false, database };
    try {
      await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
    } catch (error) {
      // Another replica created it between our check and our CREATE.
      if ((error as { code?: string }).code !== '42P04') throw error;
      return { created: false, database };
    }
    return { created: true, database };
  } finally {
    await client.end();
  }
}
