import type { DataSourceOptions } from 'typeorm';
import { SnakeNamingStrategy } from 'typeorm-naming-strategies';

import { MIGRATIONS } from '../../../migrations';

/**
 * TypeORM options shared by the app, the migration CLI and the test harness.
 * The schema comes only from migrations/ (never synchronize).
 */
export function dataSourceOptions(url: string, poolSize: number): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    migrationsRun: false,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'all',
    extra: { max: poolSize, application_name: 'agent-credentials' },
    logging: false,
  };
}
