import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { Actor, assertOwnerRead, canReadAll, RequestContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { ConflictError, NotFoundError } from '../common/errors/domain-error';
import { fetchTimePage, Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import { OwnerEntity, OwnerKind } from './entities/owner.entity';
import { isUniqueViolation } from '../common/db/pg-errors';

export interface OwnerView {
  id: string;
  name: string;
  email: string;
  kind: OwnerKind;
  createdAt: string;
  updatedAt: string;
}

@Injectable()
export class OwnersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  async create(ctx: RequestContext, input: { name: string; email: string; kind: OwnerKind }): Promise<OwnerView> {
    const now = this.clock.now();
    const owner: OwnerEntity = { id: this.random.uuid(), ...input, createdAt: now, updatedAt: now };
    try {
      await this.dataSource.transaction(async (em) => {
        await em.insert(OwnerEntity, owner);
        await this.audit.record(em, ctx, {
          action: 'owner.created',
          targetType: 'owner',
          targetId: owner.id,
          data: { name: owner.name, email: owner.email, kind: owner.kind },
        });
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError('OWNER_EMAIL_TAKEN', `An owner with email ${input.email} exists.`);
      throw error;
    }
    return toView(owner);
  }

  async get(actor: Actor, id: string): Promise<OwnerView> {
    const owner = await this.dataSource.getRepository(OwnerEntity).findOne({ where: { id } });
    if (!owner) throw new NotFoundError('owner', id);
    assertOwnerRead(actor, owner.id, 'owner record');
    return toView(owner);
  }

  async exists(id: string): Promise<boolean> {
    return this.dataSource.getRepository(OwnerEntity).exists({ where: { id } });
  }

  list(actor: Actor, query: { limit?: number; cursor?: string }): Promise<Page<OwnerView>> {
    const qb = this.dataSource.getRepository(OwnerEntity).createQueryBuilder('o');
    if (!canReadAll(actor)) qb.where('o.id = :own', { own: actor.ownerId });
    return fetchTimePage(qb, 'o', query, toView);
  }

  async update(ctx: RequestContext, id: string, changes: { name?: string; email?: string; kind?: OwnerKind }): Promise<OwnerView> {
    try {
      return await this.dataSource.transaction(async (em) => {
        const owner = await em.findOne(OwnerEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
        if (!owner) throw new NotFoundError('owner', id);
        const before = { name: owner.name, email: owner.email, kind: owner.kind };
        Object.assign(owner, definedOnly(changes), { updatedAt: this.clock.now() });
        await em.update(OwnerEntity, { id }, { name: owner.name, email: owner.email, kind: owner.kind, updatedAt: owner.updatedAt });
        await this.audit.record(em, ctx, {
          action: 'owner.updated',
          targetType: 'owner',
          targetId: id,
          data: { before, after: { name: owner.name, email: owner.email, kind: owner.kind } },
        });
        return toView(owner);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError('OWNER_EMAIL_TAKEN', `An owner with email ${changes.email} exists.`);
      throw error;
    }
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function toView(owner: OwnerEntity): OwnerView {
  return {
    id: owner.id,
    name: owner.name,
    email: owner.email,
    kind: owner.kind,
    createdAt: owner.createdAt.toISOString(),
    updatedAt: owner.updatedAt.toISOString(),
  };
}
