import type { EntityManager } from 'typeorm';

/**
 * Runs `work` inside the caller's transaction, under a savepoint (TypeORM
 * nests a transaction as SAVEPOINT ... RELEASE / ROLLBACK TO): if `work`
 * throws, what it wrote is undone and the error rethrown, and the outer
 * transaction can go on. After-commit hooks it registered stay registered
 * (src/common/db/after-commit.ts keeps them until the outer transaction ends).
 */
export function inSavepoint<T>(em: EntityManager, work: (em: EntityManager) => Promise<T>): Promise<T> {
  if (!em.queryRunner?.isTransactionActive) throw new Error('a savepoint needs a transaction to be in');
  return em.transaction(work);
}
