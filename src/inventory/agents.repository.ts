import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { TableRepository } from '../common/db/table-repository';
import type { Page } from '../common/pagination/pagination';
import { AgentEntity, AgentStatus } from './entities/agent.entity';

/** The agents table, one method per purpose. */
@Injectable()
export class AgentsRepository extends TableRepository<AgentEntity> {
  constructor(@InjectDataSource() dataSource: DataSource) {
    super(dataSource, AgentEntity, 'a');
  }

  /** Plain SQL: every issuance reads its agent first. */
  override async findById(id: string): Promise<AgentEntity | null> {
    const rows: AgentEntity[] = await this.dataSource.query(
      `SELECT id, name, owner_id AS "ownerId", description, status, created_at AS "createdAt", updated_at AS "updatedAt"
         FROM agents WHERE id = $1`,
      [id],
    );
    return rows[0] ?? null;
  }

  list(query: { ownerId?: string; status?: AgentStatus; limit?: number; cursor?: string }): Promise<Page<AgentEntity>> {
    return this.page(query, (qb) => {
      if (query.ownerId) qb.andWhere('a.owner_id = :ownerId', { ownerId: query.ownerId });
      if (query.status) qb.andWhere('a.status = :status', { status: query.status });
    });
  }

  async saveDetails(em: EntityManager, agent: AgentEntity): Promise<void> {
    await em.update(AgentEntity, { id: agent.id }, { name: agent.name, description: agent.description, updatedAt: agent.updatedAt });
  }

  async markDecommissioned(em: EntityManager, id: string, at: Date): Promise<void> {
    await em.update(AgentEntity, { id }, { status: 'decommissioned', updatedAt: at });
  }
}
