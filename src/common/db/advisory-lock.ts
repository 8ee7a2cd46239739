import type { EntityManager } from 'typeorm';

/**
 * Takes a transaction-scoped advisory lock named by a string, if free. Sweeps
 * use it so that, with several scheduler replicas, one does the work and the
 * others skip this round. Released at commit or rollback.
 */
export async function tryAdvisoryXactLock(em: EntityManager, name: string): Promise<boolean> {
  const rows: Array<{ locked: boolean }> = await em.query('SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked', [name]);
  return rows[0]?.locked === true;
}

/** Waits for a transaction-scoped advisory lock named by a string. */
export async function advisoryXactLock(em: EntityManager, name: string): Promise<void> {
  await em.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [name]);
}
