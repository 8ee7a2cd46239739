import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';

import type { RequestContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { chunks } from '../common/collections/chunks';
import { AfterCommit } from '../common/db/after-commit';
import { TransactionNotifications } from '../common/db/transaction-notifications';
import { InvalidInputError } from '../common/errors/domain-error';
import { DEFAULT_PAGE_SIZE, Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import { AuditRepository, LinkedEventRow } from './audit.repository';
import type { AuditAction } from './audit-actions';
import { assertNoSecretValues, chainHash, GENESIS_HASH } from './audit-chain';
import { AuditChainerService, chainedEventOf } from './audit-chainer.service';
import type { AuditEventDto, ChainVerificationDto } from './dto/audit.dto';

export interface AuditEntry {
  action: AuditAction;
  targetType: string;
  targetId: string;
  data?: Record<string, unknown>;
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

const VERIFY_BATCH = 2000;
/** Events one INSERT writes at most (a campaign's expiry may revoke a hundred thousand credentials). */
const MAX_EVENTS_PER_STATEMENT = 1000;

@Injectable()
export class AuditService {
  constructor(
    private readonly repository: AuditRepository,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly chainer: AuditChainerService,
    private readonly afterCommit: AfterCommit,
    private readonly notifications: TransactionNotifications,
  ) {}

  /**
   * Writes events inside the caller's transaction, one round trip per thousand: the
   * events and their places in the chainer's queue, and the Postgres
   * notifications the transaction holds (src/common/db/transaction-notifications.ts).
   * Writers never wait on the chain; the chainer links the events once this transaction commits.
   */
  record(em: EntityManager, ctx: RequestContext, ...entries: AuditEntry[]): Promise<void> {
    return this.recordEach(
      em,
      entries.map((entry) => ({ ctx, entry })),
    );
  }

  /** As `record`, for the state changes of several requests committed together: each event names its own actor and request. */
  async recordEach(em: EntityManager, items: Array<{ ctx: RequestContext; entry: AuditEntry }>): Promise<void> {
    if (!em.queryRunner?.isTransactionActive) {
      throw new Error('audit events must be written inside the transaction of their state change');
    }
    if (items.length === 0) return;
    const at = this.clock.now().toISOString();
    const rows = items.map(({ ctx, entry }) => {
      const data = withRedactedFields(entry.data ?? {}, ctx);
      assertNoSecretValues(data);
      return {
        id: this.random.uuid(),
        at,
        actor: { tokenId: ctx.actor.tokenId, role: ctx.actor.role, ownerId: ctx.actor.ownerId },
        action: entry.action,
        target_type: entry.targetType,
        target_id: entry.targetId,
        request_id: ctx.requestId,
        data,
      };
    });
    // The first statement also sends the notifications the transaction holds so far (the credential changes its
    // outbox events announced): one round trip fewer before the commit.
    let notifications = this.notifications.take(em);
    for (const chunk of chunks(rows, MAX_EVENTS_PER_STATEMENT)) {
      await this.repository.insertEvents(em, chunk, notifications);
      notifications = null;
    }
    this.afterCommit.run(em, () => this.chainer.poke(true));
  }

  /** Linked events, newest first (by chain position). */
  async list(query: AuditQuery): Promise<Page<AuditEventDto>> {
    await this.chainer.drain();
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    if (query.cursor !== undefined && !/^\d{1,18}$/.test(query.cursor)) {
      throw InvalidInputError.field('cursor', 'is not a cursor this API issued');
    }
    const { cursor, ...filter } = query;
    const rows = await this.repository.listLinked({ ...filter, beforeSeq: cursor, limit: limit + 1 });
    const hasMore = rows.length > limit;
    const page = hasMore ? rows.slice(0, limit) : rows;
    return { items: page.map(toView), nextCursor: hasMore ? String(page[page.length - 1].seq) : null };
  }

  /**
   * Links what is pending, then recomputes the whole chain from the first link.
   * Also invalid: a link whose event is missing, and an event that is neither
   * linked nor queued (written around the service, e.g. by hand in SQL).
   */
  async verify(): Promise<ChainVerificationDto> {
    await this.chainer.drain();
    let prevHash = GENESIS_HASH;
    let expectedSeq = 1;
    let count = 0;
    let after = 0;
    for (;;) {
      const batch = await this.repository.linksAfter(after, VERIFY_BATCH);
      if (batch.length === 0) break;
      for (const row of batch) {
        const seq = Number(row.seq);
        const broken =
          !row.event_present || seq !== expectedSeq || row.prev_hash !== prevHash || chainHash(prevHash, chainedEventOf(row)) !== row.hash;
        if (broken) return { valid: false, count: count + 1, headHash: prevHash, firstBrokenSeq: seq };
        prevHash = row.hash;
        expectedSeq += 1;
        count += 1;
      }
      after = Number(batch[batch.length - 1].seq);
    }
    const stray = await this.repository.countStray();
    if (stray > 0) return { valid: false, count, headHash: prevHash, unlinkedEvents: stray };
    return { valid: true, count, headHash: prevHash };
  }
}

/**
 * Every event of a request whose free text had secret-shaped values replaced
 * says so: `redactedFields` names the body fields (never the values).
 */
function withRedactedFields(data: Record<string, unknown>, ctx: RequestContext): Record<string, unknown> {
  if (!ctx.redactions?.length) return data;
  return { ...data, redactedFields: [...new Set(ctx.redactions.map((r) => r.field))] };
}

function toView(row: LinkedEventRow): AuditEventDto {
  return { ...chainedEventOf(row), seq: Number(row.seq), hash: row.hash, prevHash: row.prev_hash };
}
