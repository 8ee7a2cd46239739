import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { TableRepository } from '../common/db/table-repository';
import type { Page } from '../common/pagination/pagination';
import { OwnerEntity } from './entities/owner.entity';

/** The owners table, one method per purpose. */
@Injectable()
export class OwnersRepository extends TableRepository<OwnerEntity> {
  constructor(@InjectDataSource() dataSource: DataSource) {
    super(dataSource, OwnerEntity, 'o');
  }

  exists(id: string): Promise<boolean> {
    return this.dataSource.getRepository(OwnerEntity).exists({ where: { id } });
  }

  /** Newest first; `onlyId` narrows the list to one owner (an owner token sees only itself). */
  list(query: { onlyId?: string | null; limit?: number; cursor?: string }): Promise<Page<OwnerEntity>> {
    return this.page(query, (qb) => {
      if (query.onlyId !== undefined) qb.where('o.id = :own', { own: query.onlyId });
    });
  }

  async save(em: EntityManager, owner: OwnerEntity): Promise<void> {
    await em.update(OwnerEntity, { id: owner.id }, { name: owner.name, email: owner.email, kind: owner.kind, updatedAt: owner.updatedAt });
  }
}
