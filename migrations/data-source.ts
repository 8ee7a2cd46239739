/**
 * The data source the TypeORM CLI uses to generate and run migrations:
 *   npm run migration:generate -- migrations/<Name>
 * Tooling only, so it reads DATABASE_URL itself.
 */
import 'reflect-metadata';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/common/db/data-source-options';

export default new DataSource({
  ...dataSourceOptions(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/credentials', 2),
  entities: [join(__dirname, '../src/**/*.entity.{ts,js}')],
});
