import { DataSource } from 'typeorm';

import { dataSourceOptions } from './data-source-options';

/**
 * Runs pending migrations under a session advisory lock, so replicas starting
 * together do not race each other through the same migration.
 */
export async function runMigrations(url: string): Promise<string[]> {
  const dataSource = new DataSource(dataSourceOptions(url, 2));
  await dataSource.initialize();
  try {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query("SELECT pg_advisory_lock(hashtextextended('agent-credentials:migrations', 0))");
      const applied = await dataSource.runMigrations({ transaction: 'all' });
      return applied.map((m) => m.name);
    } finally {
      await runner.query("SELECT pg_advisory_unlock(hashtextextended('agent-credentials:migrations', 0))");
      await runner.release();
    }
  } finally {
    await dataSource.destroy();
  }
}
