import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { fetchTimePage, Page } from '../common/pagination/pagination';
import { OwnerEntity } from './entities/owner.entity';

/** The owners table, one method per purpose. */
@Injectable()
export class OwnersRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(em: EntityManager, owner: OwnerEntity): Promise<void> {
    await em.insert(OwnerEntity, owner);
  }

  findById(id: string): Promise<OwnerEntity | null> {
    return this.dataSource.getRepository(OwnerEntity).findOne({ where: { id } });
  }

  exists(id: string): Promise<boolean> {
    return this.dataSource.getRepository(OwnerEntity).exists({ where: { id } });
  }

  /** Newest first; `onlyId` narrows the list to one owner (an owner token sees only itself). */
  list(query: { onlyId?: string | null; limit?: number; cursor?: string }): Promise<Page<OwnerEntity>> {
    const qb = this.dataSource.getRepository(OwnerEntity).createQueryBuilder('o');
    if (query.onlyId !== undefined) qb.where('o.id = :own', { own: query.onlyId });
    return fetchTimePage(qb, 'o', query, (row) => row);
  }

  lockForChange(em: EntityManager, id: string): Promise<OwnerEntity | null> {
    return em.findOne(OwnerEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  async save(em: EntityManager, owner: OwnerEntity): Promise<void> {
    await em.update(OwnerEntity, { id: owner.id }, { name: owner.name, email: owner.email, kind: owner.kind, updatedAt: owner.updatedAt });
  }
}
