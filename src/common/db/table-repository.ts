import type { DataSource, EntityManager, EntityTarget, FindOptionsWhere, SelectQueryBuilder } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';

import { fetchTimePage, Page } from '../pagination/pagination';

/**
 * What every table's repository does alike, written once: insert a row, find
 * one by id, lock one by id for a change, and list a page newest first. A
 * repository extends it for its entity and adds one method per purpose.
 */
export abstract class TableRepository<E extends { id: string; createdAt: Date }> {
  protected constructor(
    protected readonly dataSource: DataSource,
    private readonly entity: EntityTarget<E>,
    /** The alias list queries name the table by (`o.created_at`). */
    private readonly alias: string,
  ) {}

  async insert(em: EntityManager, row: E): Promise<void> {
    await em.insert(this.entity, row as QueryDeepPartialEntity<E>);
  }

  findById(id: string, em: EntityManager = this.dataSource.manager): Promise<E | null> {
    return em.findOne(this.entity, { where: { id } as FindOptionsWhere<E> });
  }

  /** The row, locked FOR UPDATE until the transaction `em` ends; null when there is none. */
  lockForChange(em: EntityManager, id: string): Promise<E | null> {
    return em.findOne(this.entity, { where: { id } as FindOptionsWhere<E>, lock: { mode: 'pessimistic_write' } });
  }

  /** One page of rows, newest first; `narrow` adds the list's filters, naming the table by `alias`. */
  protected page(
    query: { limit?: number; cursor?: string },
    narrow?: (qb: SelectQueryBuilder<E>, alias: string) => void,
  ): Promise<Page<E>> {
    const qb = this.dataSource.getRepository(this.entity).createQueryBuilder(this.alias);
    narrow?.(qb, this.alias);
    return fetchTimePage(qb, this.alias, query, (row) => row);
  }
}
