/** Whether a database error is a unique-constraint violation (SQLSTATE 23505), optionally of a named constraint. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const driver = (error as { driverError?: { code?: string; constraint?: string } })?.driverError;
  return driver?.code === '23505' && (constraint === undefined || driver.constraint === constraint);
}

/**
 * SQLSTATEs that mean the database cannot serve us now, not that the request
 * was wrong: class 08 (connection exception), 57P01..57P03 (admin or crash
 * shutdown, cannot connect now), 53300 (too many connections).
 */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123]|53300)$/;

/** Socket-level failures on the way to the database. */
const UNAVAILABLE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/**
 * What node-postgres and pg-pool say, without a code, when a connection is
 * lost or cannot be had: a server gone mid-query, a pool waiting past its
 * timeout, a client that already saw its connection fail, a database that
 * refuses connections (ALLOW_CONNECTIONS false: SQLSTATE 55000, a code that
 * alone says nothing about connections).
 */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|Cannot use a pool after calling end|is not currently accepting connections|the database system is (starting up|shutting down|in recovery mode)/i;

/**
 * Whether an error means the database is unreachable or going away (an outage),
 * as opposed to a statement it refused. Looks through TypeORM's wrapper
 * (`driverError`), `cause` and AggregateError's `errors` (a host name that
 * resolves to several addresses fails once per address).
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (error === null || typeof error !== 'object' || depth > 4) return false;
  const e = error as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (UNAVAILABLE_SQLSTATE.test(e.code) || UNAVAILABLE_ERRNO.has(e.code))) return true;
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message)) return true;
  const inner = [e.driverError, e.cause, ...(Array.isArray(e.errors) ? e.errors : [])];
  return inner.some((i) => isDatabaseUnavailable(i, depth + 1));
}
