import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { Actor, assertOwnerAccess, assertOwnerRead, RequestContext, scopedOwnerFilter } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { isUniqueViolation } from '../common/db/pg-errors';
import { InvalidInputError, NotFoundError } from '../common/errors/domain-error';
import { mapPage, Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import { AgentsRepository } from './agents.repository';
import type { AgentDto } from './dto/agent.dto';
import { AgentEntity, AgentStatus } from './entities/agent.entity';
import { AgentDecommissionedError, AgentNameTakenError } from './inventory-errors';
import { OwnersService } from './owners.service';

@Injectable()
export class AgentsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: AgentsRepository,
    private readonly owners: OwnersService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  async create(ctx: RequestContext, input: { name: string; ownerId: string; description?: string }): Promise<AgentDto> {
    assertOwnerAccess(ctx.actor, input.ownerId, 'agent');
    if (!(await this.owners.exists(input.ownerId))) {
      throw InvalidInputError.field('ownerId', 'does not name an existing owner');
    }
    const now = this.clock.now();
    const agent: AgentEntity = {
      id: this.random.uuid(),
      name: input.name,
      ownerId: input.ownerId,
      description: input.description ?? null,
      status: 'active',
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.dataSource.transaction(async (em) => {
        await this.repository.insert(em, agent);
        await this.audit.record(em, ctx, {
          action: 'agent.created',
          targetType: 'agent',
          targetId: agent.id,
          data: { name: agent.name, ownerId: agent.ownerId },
        });
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new AgentNameTakenError(input.name);
      throw error;
    }
    return toAgentView(agent);
  }

  async get(actor: Actor, id: string): Promise<AgentDto> {
    const agent = await this.find(id);
    assertOwnerRead(actor, agent.ownerId, 'agent');
    return toAgentView(agent);
  }

  async list(actor: Actor, query: { ownerId?: string; status?: AgentStatus; limit?: number; cursor?: string }): Promise<Page<AgentDto>> {
    return mapPage(await this.repository.list({ ...query, ownerId: scopedOwnerFilter(actor, query.ownerId) }), toAgentView);
  }

  async update(ctx: RequestContext, id: string, changes: { name?: string; description?: string }): Promise<AgentDto> {
    try {
      return await this.dataSource.transaction(async (em) => {
        const agent = await this.lockForChange(em, id);
        assertOwnerAccess(ctx.actor, agent.ownerId, 'agent');
        if (agent.status === 'decommissioned') {
          throw new AgentDecommissionedError('be changed');
        }
        const before = { name: agent.name, description: agent.description };
        if (changes.name !== undefined) agent.name = changes.name;
        if (changes.description !== undefined) agent.description = changes.description;
        agent.updatedAt = this.clock.now();
        await this.repository.saveDetails(em, agent);
        await this.audit.record(em, ctx, {
          action: 'agent.updated',
          targetType: 'agent',
          targetId: id,
          data: { before, after: { name: agent.name, description: agent.description } },
        });
        return toAgentView(agent);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new AgentNameTakenError(changes.name);
      throw error;
    }
  }

  /** Loads an agent for a state change in the caller's transaction, row-locked. */
  async lockForChange(em: EntityManager, id: string): Promise<AgentEntity> {
    const agent = await this.repository.lockForChange(em, id);
    if (!agent) throw new NotFoundError('agent', id);
    return agent;
  }

  /** Marks an agent decommissioned inside the caller's transaction (the caller writes the audit event). */
  async markDecommissioned(em: EntityManager, id: string): Promise<void> {
    await this.repository.markDecommissioned(em, id, this.clock.now());
  }

  async find(id: string): Promise<AgentEntity> {
    const agent = await this.repository.findById(id);
    if (!agent) throw new NotFoundError('agent', id);
    return agent;
  }
}

export function toAgentView(agent: AgentEntity): AgentDto {
  return {
    id: agent.id,
    name: agent.name,
    ownerId: agent.ownerId,
    description: agent.description,
    status: agent.status,
    createdAt: agent.createdAt.toISOString(),
    updatedAt: agent.updatedAt.toISOString(),
  };
}
