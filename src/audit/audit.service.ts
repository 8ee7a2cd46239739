import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { RequestContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { chunks } from '../common/collections/chunks';
import { AfterCommit } from '../common/db/after-commit';
import { InvalidInputError } from '../common/errors/domain-error';
import { DEFAULT_PAGE_SIZE, Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import { assertNoSecretValues, chainHash, ChainedEvent, GENESIS_HASH } from './audit-chain';
import { AuditChainer, AuditEventRow, chainedEventOf } from './audit-chainer.service';

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
  /** Events in the table that are neither linked nor waiting to be: written around the service. */
  unlinkedEvents?: number;
}

const VERIFY_BATCH = 2000;
/** Events one INSERT writes at most (a campaign's expiry may revoke a hundred thousand credentials). */
const MAX_EVENTS_PER_STATEMENT = 1000;

@Injectable()
export class AuditService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly chainer: AuditChainer,
    private readonly afterCommit: AfterCommit,
  ) {}

  /**
   * Writes events inside the caller's transaction, one round trip per thousand: the
   * events and their places in the chainer's queue. Writers never wait on the
   * chain; the chainer links the events once this transaction commits.
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
    for (const chunk of chunks(rows, MAX_EVENTS_PER_STATEMENT)) await this.insertEvents(em, chunk);
    this.afterCommit.run(em, () => this.chainer.poke());
  }

  private async insertEvents(em: EntityManager, rows: unknown[]): Promise<void> {
    await em.query(
      `WITH written AS (
         INSERT INTO audit_events (id, at, actor, action, target_type, target_id, request_id, data)
         SELECT id, at, actor, action, target_type, target_id, request_id, data
           FROM jsonb_to_recordset($1::jsonb)
             AS e(id uuid, at timestamptz, actor jsonb, action text, target_type text, target_id text, request_id text, data jsonb)
         RETURNING id, created_seq)
       INSERT INTO audit_unchained (event_id, created_seq) SELECT id, created_seq FROM written`,
      [JSON.stringify(rows)],
    );
  }

  /** Linked events, newest first (by chain position). */
  async list(query: AuditQuery): Promise<Page<AuditEventView>> {
    await this.chainer.drain();
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (query.actor) add("e.actor->>'tokenId' = ?", query.actor);
    if (query.action) add('e.action = ?', query.action);
    if (query.targetId) add('e.target_id = ?', query.targetId);
    if (query.since) add('e.at >= ?', query.since);
    if (query.until) add('e.at < ?', query.until);
    if (query.cursor !== undefined) {
      if (!/^\d{1,18}$/.test(query.cursor)) throw InvalidInputError.field('cursor', 'is not a cursor this API issued');
      add('c.seq < ?', query.cursor);
    }
    params.push(limit + 1);
    const rows: LinkedEventRow[] = await this.dataSource.query(
      `SELECT ${LINKED_COLUMNS}
         FROM audit_chain c JOIN audit_events e ON e.id = c.event_id
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY c.seq DESC
        LIMIT $${params.length}`,
      params,
    );
    const hasMore = rows.length > limit;
    const page = hasMore ? rows.slice(0, limit) : rows;
    return { items: page.map(toView), nextCursor: hasMore ? String(page[page.length - 1].seq) : null };
  }

  /**
   * Links what is pending, then recomputes the whole chain from the first link.
   * Also invalid: a link whose event is missing, and an event that is neither
   * linked nor queued (written around the service, e.g. by hand in SQL).
   */
  async verify(): Promise<ChainVerification> {
    await this.chainer.drain();
    let prevHash = GENESIS_HASH;
    let expectedSeq = 1;
    let count = 0;
    let after = 0;
    for (;;) {
      const batch: Array<LinkedEventRow & { event_present: boolean }> = await this.dataSource.query(
        `SELECT ${LINKED_COLUMNS}, e.id IS NOT NULL AS event_present
           FROM audit_chain c LEFT JOIN audit_events e ON e.id = c.event_id
          WHERE c.seq > $1 ORDER BY c.seq LIMIT ${VERIFY_BATCH}`,
        [after],
      );
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
    const [{ stray }] = await this.dataSource.query(
      `SELECT count(*)::int AS stray FROM audit_events e
        WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id)
          AND NOT EXISTS (SELECT 1 FROM audit_unchained u WHERE u.event_id = e.id)`,
    );
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

const LINKED_COLUMNS = `c.seq, c.prev_hash, c.hash, e.id, e.at, e.actor, e.action, e.target_type, e.target_id, e.request_id, e.data`;

interface LinkedEventRow extends AuditEventRow {
  seq: string;
  prev_hash: string;
  hash: string;
}

function toView(row: LinkedEventRow): AuditEventView {
  return { ...chainedEventOf(row), seq: Number(row.seq), hash: row.hash, prevHash: row.prev_hash };
}
