import type { EntityManager, EntityTarget, FindOptionsWhere, ObjectLiteral } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';

/**
 * Writes the named fields of a row held in memory back to its table, by its
 * id: a repository's "save what this step changed", with the fields it may
 * touch spelt out once.
 */
export async function updateFields<E extends ObjectLiteral & { id: string }, K extends keyof E>(
  em: EntityManager,
  target: EntityTarget<E>,
  row: Pick<E, 'id' | K>,
  fields: readonly K[],
): Promise<void> {
  const values = Object.fromEntries(fields.map((field) => [field, row[field]]));
  await em.update(target, { id: row.id } as FindOptionsWhere<E>, values as unknown as QueryDeepPartialEntity<E>);
}
