import type { HttpResult } from './http';

/** A 4xx problem+json answer; for a 400, at least one `errors[].field`, and each of `fields` among them. */
export function expectProblem(result: HttpResult, status: number, fields: string[] = []): void {
  const where = `${status} expected, got ${result.status}: ${result.text.slice(0, 500)}`;
  if (result.status !== status) throw new Error(where);
  if (!(result.headers.get('content-type') ?? '').includes('application/problem+json')) throw new Error(`not problem+json: ${where}`);
  const body = result.body as {
    status?: number;
    type?: string;
    title?: string;
    detail?: string;
    errors?: Array<{ field: string; message: string }>;
  };
  if (body.status !== status || !body.type || !body.title || typeof body.detail !== 'string' || !Array.isArray(body.errors)) {
    throw new Error(`not a problem body: ${where}`);
  }
  const named = body.errors.map((e) => e.field);
  if (status === 400 && named.length === 0) throw new Error(`a 400 that names no field: ${where}`);
  for (const field of fields) if (!named.includes(field)) throw new Error(`field ${field} not named: ${where}`);
}

/** Row counts of every table of the app's schema (migrations excluded), for "nothing was stored". */
export async function tableCounts(db: { query: (sql: string) => Promise<any[]> }): Promise<Record<string, number>> {
  const tables: Array<{ name: string }> = await db.query(
    `SELECT quote_ident(c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations'
        -- a partitioned table is counted whole; its day partitions come and go with the scheduler
        AND NOT c.relispartition
        -- the chainer moves events from audit_unchained to audit_chain in the background; audit_events counts them
        AND c.relname NOT IN ('audit_chain', 'audit_unchained')
      ORDER BY c.relname`,
  );
  const [row] = await db.query(`SELECT ${tables.map((t) => `(SELECT count(*) FROM ${t.name})::int AS ${t.name}`).join(', ')}`);
  return row as Record<string, number>;
}

/** Every text, varchar, text[] and jsonb value in the database, as one string to search. */
export async function databaseText(db: { query: (sql: string) => Promise<any[]> }): Promise<string> {
  const columns: Array<{ t: string; c: string }> = await db.query(
    `SELECT quote_ident(table_name) AS t, quote_ident(column_name) AS c FROM information_schema.columns
      WHERE table_schema = 'public' AND (data_type IN ('text', 'character varying', 'jsonb', 'json') OR udt_name IN ('_text', '_varchar'))`,
  );
  const parts: string[] = [];
  for (const { t, c } of columns) {
    const rows: Array<{ v: string | null }> = await db.query(`SELECT ${c}::text AS v FROM ${t}`);
    for (const r of rows) if (r.v !== null) parts.push(r.v);
  }
  return parts.join('\n');
}

/**
 * Row counts once background work (jobs, the audit chainer) has settled: two
 * reads `quietMs` apart that agree. For comparing before and after requests
 * that must store nothing, in an app that is still finishing earlier work.
 */
export async function settledTableCounts(
  db: { query: (sql: string) => Promise<any[]> },
  quietMs = 300,
  timeoutMs = 20_000,
): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let previous = await tableCounts(db);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    const current = await tableCounts(db);
    if (JSON.stringify(current) === JSON.stringify(previous)) return current;
    if (Date.now() > deadline) throw new Error('row counts did not settle');
    previous = current;
  }
}
