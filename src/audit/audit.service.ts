import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import type { RequestContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { advisoryXactLock } from '../common/db/advisory-lock';
import { InvalidInputError } from '../common/errors/domain-error';
import { DEFAULT_PAGE_SIZE, Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import { assertNoSecretValues, chainHash, ChainedEvent, GENESIS_HASH } from './audit-chain';
import { AuditEventEntity } from './entities/audit-event.entity';

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId: string;
  data?: Record<string, unknown>;
}

export interface AuditEventView extends ChainedEvent {
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

const CHAIN_LOCK = 'agent-credentials:audit-chain';
const VERIFY_BATCH = 2000;

@Injectable()
export class AuditService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  /**
   * Appends events to the chain inside the caller's transaction. Call it last in
   * the transaction: it serialises on the chain head until commit.
   */
  async record(em: EntityManager, ctx: RequestContext, ...entries: AuditEntry[]): Promise<void> {
    if (!em.queryRunner?.isTransactionActive) {
      throw new Error('audit events must be written inside the transaction of their state change');
    }
    if (entries.length === 0) return;
    for (const entry of entries) assertNoSecretValues(entry.data ?? {});
    await advisoryXactLock(em, CHAIN_LOCK);
    const head: Array<{ seq: string; hash: string }> = await em.query(
      'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1',
    );
    let seq = head.length ? Number(head[0].seq) : 0;
    let prevHash = head.length ? head[0].hash : GENESIS_HASH;
    const at = this.clock.now();
    const rows: AuditEventEntity[] = [];
    for (const entry of entries) {
      seq += 1;
      const event: ChainedEvent = {
        id: this.random.uuid(),
        seq,
        at: at.toISOString(),
        actor: { tokenId: ctx.actor.tokenId, role: ctx.actor.role, ownerId: ctx.actor.ownerId },
        action: entry.action,
        targetType: entry.targetType,
        targetId: entry.targetId,
        requestId: ctx.requestId,
        data: entry.data ?? {},
      };
      const hash = chainHash(prevHash, event);
      rows.push(
        em.create(AuditEventEntity, { ...event, seq: String(seq), at, prevHash, hash }),
      );
      prevHash = hash;
    }
    await em.insert(AuditEventEntity, rows as QueryDeepPartialEntity<AuditEventEntity>[]);
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
