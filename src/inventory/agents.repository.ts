import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { fetchTimePage, Page } from '../common/pagination/pagination';
import { AgentEntity, AgentStatus } from './entities/agent.entity';

interface AgentRow {
  id: string;
  name: string;
  owner_id: string;
  description: string | null;
  status: AgentStatus;
  created_at: Date;
  updated_at: Date;
}

/** The agents table, one method per purpose. */
@Injectable()
export class AgentsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(em: EntityManager, agent: AgentEntity): Promise<void> {
    await em.insert(AgentEntity, agent);
  }

  /** Plain SQL: every issuance reads its agent first. */
  async findById(id: string): Promise<AgentEntity | null> {
    const rows: AgentRow[] = await this.dataSource.query(
      'SELECT id, name, owner_id, description, status, created_at, updated_at FROM agents WHERE id = $1',
      [id],
    );
    if (rows.length === 0) return null;
    const row = rows[0];
    return {
      id: row.id,
      name: row.name,
      ownerId: row.owner_id,
      description: row.description,
      status: row.status,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  list(query: { ownerId?: string; status?: AgentStatus; limit?: number; cursor?: string }): Promise<Page<AgentEntity>> {
    const qb = this.dataSource.getRepository(AgentEntity).createQueryBuilder('a');
    if (query.ownerId) qb.andWhere('a.owner_id = :ownerId', { ownerId: query.ownerId });
    if (query.status) qb.andWhere('a.status = :status', { status: query.status });
    return fetchTimePage(qb, 'a', query, (row) => row);
  }

  lockForChange(em: EntityManager, id: string): Promise<AgentEntity | null> {
    return em.findOne(AgentEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  async saveDetails(em: EntityManager, agent: AgentEntity): Promise<void> {
    await em.update(AgentEntity, { id: agent.id }, { name: agent.name, description: agent.description, updatedAt: agent.updatedAt });
  }

  async markDecommissioned(em: EntityManager, id: string, at: Date): Promise<void> {
    await em.update(AgentEntity, { id }, { status: 'decommissioned', updatedAt: at });
  }
}
