import type { DataSource } from 'typeorm';

/** One round trip to Postgres: the readiness check's database probe. */
export async function pingDatabase(dataSource: DataSource): Promise<void> {
  await dataSource.query('SELECT 1');
}
