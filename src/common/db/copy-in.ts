import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import type { Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/**
 * Streams rows into a table with `COPY … FROM STDIN` (text format) on
 * TypeORM's own pg pool: `chunks` are pieces of the COPY text (whole rows,
 * each ending in a newline; strings or UTF-8 bytes), produced as the stream
 * asks for them, so a large batch is never one string in memory. One statement: all rows or none. A
 * connection whose COPY failed is discarded, not returned to the pool.
 */
export async function copyIn(dataSource: DataSource, sql: string, chunks: Iterable<string | Uint8Array>): Promise<number> {
  const pool = (dataSource.driver as PostgresDriver).master as Pool;
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    const stream = client.query(copyFrom(sql));
    await pipeline(Readable.from(chunks, { objectMode: false }), stream);
    return stream.rowCount;
  } catch (error) {
    failure = error as Error;
    throw error;
  } finally {
    client.release(failure);
  }
}

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A value as COPY's text format reads it: `\N` for null, backslash, tab and line breaks escaped. */
export function copyText(value: string | number | null): string {
  if (value === null) return '\\N';
  if (typeof value === 'number') return String(value);
  return COPY_SPECIAL.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!) : value;
}
