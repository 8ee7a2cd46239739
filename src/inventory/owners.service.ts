import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { Actor, assertOwnerRead, canReadAll, RequestContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { definedOnly } from '../common/collections/defined-only';
import { isUniqueViolation } from '../common/db/pg-errors';
import { NotFoundError } from '../common/errors/domain-error';
import { mapPage, Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import type { OwnerDto } from './dto/owner.dto';
import { OwnerEntity, OwnerKind } from './entities/owner.entity';
import { OwnerEmailTakenError } from './inventory-errors';
import { OwnersRepository } from './owners.repository';

@Injectable()
export class OwnersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: OwnersRepository,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  async create(ctx: RequestContext, input: { name: string; email: string; kind: OwnerKind }): Promise<OwnerDto> {
    const now = this.clock.now();
    const owner: OwnerEntity = { id: this.random.uuid(), ...input, createdAt: now, updatedAt: now };
    try {
      await this.dataSource.transaction(async (em) => {
        await this.repository.insert(em, owner);
        await this.audit.record(em, ctx, {
          action: 'owner.created',
          targetType: 'owner',
          targetId: owner.id,
          data: { name: owner.name, email: owner.email, kind: owner.kind },
        });
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new OwnerEmailTakenError(input.email);
      throw error;
    }
    return toView(owner);
  }

  async get(actor: Actor, id: string): Promise<OwnerDto> {
    const owner = await this.repository.findById(id);
    if (!owner) throw new NotFoundError('owner', id);
    assertOwnerRead(actor, owner.id, 'owner record');
    return toView(owner);
  }

  async exists(id: string): Promise<boolean> {
    return this.repository.exists(id);
  }

  async list(actor: Actor, query: { limit?: number; cursor?: string }): Promise<Page<OwnerDto>> {
    return mapPage(await this.repository.list({ ...query, onlyId: canReadAll(actor) ? undefined : actor.ownerId }), toView);
  }

  async update(ctx: RequestContext, id: string, changes: { name?: string; email?: string; kind?: OwnerKind }): Promise<OwnerDto> {
    try {
      return await this.dataSource.transaction(async (em) => {
        const owner = await this.repository.lockForChange(em, id);
        if (!owner) throw new NotFoundError('owner', id);
        const before = { name: owner.name, email: owner.email, kind: owner.kind };
        Object.assign(owner, definedOnly(changes), { updatedAt: this.clock.now() });
        await this.repository.save(em, owner);
        await this.audit.record(em, ctx, {
          action: 'owner.updated',
          targetType: 'owner',
          targetId: id,
          data: { before, after: { name: owner.name, email: owner.email, kind: owner.kind } },
        });
        return toView(owner);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new OwnerEmailTakenError(changes.email);
      throw error;
    }
  }
}

function toView(owner: OwnerEntity): OwnerDto {
  return {
    id: owner.id,
    name: owner.name,
    email: owner.email,
    kind: owner.kind,
    createdAt: owner.createdAt.toISOString(),
    updatedAt: owner.updatedAt.toISOString(),
  };
}
