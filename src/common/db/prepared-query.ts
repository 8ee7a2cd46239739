import type { Pool, QueryResultRow } from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/**
 * Runs one statement of a hot read path (every request's token lookup, GET
 * one credential) as a named prepared statement on TypeORM's own pg pool.
 *
 * Postgres then parses and plans it once per connection instead of on every
 * call, and the call skips TypeORM's per-query QueryRunner. Rows come back
 * exactly as `dataSource.query` returns them (same pool, same type parsers).
 * Only for statements outside a transaction. Migrations run before the
 * service serves, so a cached plan never outlives the schema it was made for.
 */
export async function preparedQuery<T extends QueryResultRow>(
  dataSource: DataSource,
  statement: PreparedStatement,
  values: unknown[],
): Promise<T[]> {
  const pool = (dataSource.driver as PostgresDriver).master as Pool;
  const result = await pool.query<T>({ ...statement, values });
  return result.rows;
}

/** A statement and the name Postgres prepares it under, kept in one constant so no call site pairs a name with another text. */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}
