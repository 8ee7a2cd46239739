import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { RequestContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { InvalidInputError } from '../common/errors/domain-error';
import { DEFAULT_PAGE_SIZE, Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import { assertNoSecretValues, canonicalEvent, chainHash, ChainedEvent, GENESIS_HASH } from './audit-chain';
import { AuditEventEntity } from './entities/audit-event.entity';

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId: string;
  data?: Record<string, unknown>;
}

export interface AuditEventView extends ChainedEvent {
  seq: number;
  hash: string;
  prevHash: string;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  targetId?: string;
  since?: Date;
  until?: Date;
  limit?: number;
  cursor?: string;
}

export interface ChainVerification {
  valid: boolean;
  count: number;
  headHash: string;
  firstBrokenSeq?: number;
}

const VERIFY_BATCH = 2000;

@Injectable()
export class AuditService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  /**
   * Appends events to the chain inside the caller's transaction, in one round
   * trip (the audit_append function links them under the chain lock). Call it
   * last in the transaction: the lock is held until commit.
   */
  async record(em: EntityManager, ctx: RequestContext, ...entries: AuditEntry[]): Promise<void> {
    if (!em.queryRunner?.isTransactionActive) {
      throw new Error('audit events must be written inside the transaction of their state change');
    }
    if (entries.length === 0) return;
    const at = this.clock.now().toISOString();
    const actor = { tokenId: ctx.actor.tokenId, role: ctx.actor.role, ownerId: ctx.actor.ownerId };
    const events = entries.map((entry) => {
      assertNoSecretValues(entry.data ?? {});
      const event: ChainedEvent = {
        id: this.random.uuid(),
        at,
        actor,
        action: entry.action,
        targetType: entry.targetType,
        targetId: entry.targetId,
        requestId: ctx.requestId,
        data: entry.data ?? {},
      };
      return { ...event, canonical: canonicalEvent(event) };
    });
    await em.query('SELECT audit_append($1::jsonb)', [JSON.stringify(events)]);
  }

  async list(query: AuditQuery): Promise<Page<AuditEventView>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const qb = this.dataSource.getRepository(AuditEventEntity).createQueryBuilder('e');
    if (query.actor) qb.andWhere("e.actor->>'tokenId' = :actor", { actor: query.actor });
    if (query.action) qb.andWhere('e.action = :action', { action: query.action });
    if (query.targetId) qb.andWhere('e.target_id = :targetId', { targetId: query.targetId });
    if (query.since) qb.andWhere('e.at >= :since', { since: query.since });
    if (query.until) qb.andWhere('e.at < :until', { until: query.until });
    if (query.cursor !== undefined) {
      if (!/^\d{1,18}$/.test(query.cursor)) throw InvalidInputError.field('cursor', 'is not a cursor this API issued');
      qb.andWhere('e.seq < :cursor', { cursor: query.cursor });
    }
    const rows = await qb.orderBy('e.seq', 'DESC').limit(limit + 1).getMany();
    const hasMore = rows.length > limit;
    const page = hasMore ? rows.slice(0, limit) : rows;
    return { items: page.map(toView), nextCursor: hasMore ? page[page.length - 1].seq : null };
  }

  /** Recomputes the whole chain from the first event. */
  async verify(): Promise<ChainVerification> {
    const repo = this.dataSource.getRepository(AuditEventEntity);
    let prevHash = GENESIS_HASH;
    let expectedSeq = 1;
    let count = 0;
    let after = '0';
    for (;;) {
      const batch = await repo
        .createQueryBuilder('e')
        .where('e.seq > :after', { after })
        .orderBy('e.seq', 'ASC')
        .limit(VERIFY_BATCH)
        .getMany();
      if (batch.length === 0) break;
      for (const row of batch) {
        const view = toView(row);
        const broken = view.seq !== expectedSeq || row.prevHash !== prevHash || chainHash(prevHash, view) !== row.hash;
        if (broken) return { valid: false, count: count + 1, headHash: prevHash, firstBrokenSeq: view.seq };
        prevHash = row.hash;
        expectedSeq += 1;
        count += 1;
      }
      after = batch[batch.length - 1].seq;
    }
    return { valid: true, count, headHash: prevHash };
  }
}

function toView(row: AuditEventEntity): AuditEventView {
  return {
    id: row.id,
    seq: Number(row.seq),
    at: row.at.toISOString(),
    actor: row.actor,
    action: row.action,
    targetType: row.targetType,
    targetId: row.targetId,
    requestId: row.requestId,
    data: row.data,
    hash: row.hash,
    prevHash: row.prevHash,
  };
}
