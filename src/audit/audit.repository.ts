import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { SqlParams } from '../common/db/sql-params';
import { HeldNotifications, notifySelect } from '../common/db/transaction-notifications';
import type { ChainedEvent } from './audit-chain';

/** An audit_events row as plain SQL returns it. */
export interface AuditEventRow {
  id: string;
  at: Date;
  actor: ChainedEvent['actor'];
  action: string;
  target_type: string;
  target_id: string;
  request_id: string;
  data: Record<string, unknown>;
}

/** An event with its place in the chain. */
export interface LinkedEventRow extends AuditEventRow {
  seq: string;
  prev_hash: string;
  hash: string;
}

/** A new event as recordEach writes it: the columns of audit_events, its time as ISO text. */
export type NewAuditEventRow = Omit<AuditEventRow, 'at'> & { at: string };

/** A link of the chain as the chainer appends it. */
export interface ChainLinkRow {
  seq: string;
  event_id: string;
  prev_hash: string;
  hash: string;
  chained_at: string;
}

export interface LinkedEventFilter {
  actor?: string;
  action?: string;
  targetId?: string;
  since?: Date;
  until?: Date;
  /** Only links before this chain position (the list's cursor). */
  beforeSeq?: string;
  limit: number;
}

const LINKED_COLUMNS = `c.seq, c.prev_hash, c.hash, e.id, e.at, e.actor, e.action, e.target_type, e.target_id, e.request_id, e.data`;

/**
 * The audit log's three tables: audit_events (what happened), audit_unchained
 * (committed events the chainer has not linked yet) and audit_chain (the hash
 * chain over them).
 */
@Injectable()
export class AuditRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Writes events and their places in the chainer's queue, in one statement. */
  async insertEvents(em: EntityManager, rows: NewAuditEventRow[], notifications: HeldNotifications | null = null): Promise<void> {
    const written = `written AS (
         INSERT INTO audit_events (id, at, actor, action, target_type, target_id, request_id, data)
         SELECT id, at, actor, action, target_type, target_id, request_id, data
           FROM jsonb_to_recordset($1::jsonb)
             AS e(id uuid, at timestamptz, actor jsonb, action text, target_type text, target_id text, request_id text, data jsonb)
         RETURNING id, created_seq)`;
    const queue = 'INSERT INTO audit_unchained (event_id, created_seq) SELECT id, created_seq FROM written';
    if (!notifications) {
      await em.query(`WITH ${written} ${queue}`, [JSON.stringify(rows)]);
      return;
    }
    // The transaction's notifications ride along (src/common/db/transaction-notifications.ts): the inserts run as
    // data-modifying CTEs, the SELECT sends them.
    await em.query(`WITH ${written}, queued AS (${queue}) ${notifySelect('$2', '$3')}`, [
      JSON.stringify(rows),
      notifications.channels,
      notifications.payloads,
    ]);
  }

  /** Linked events matching the filter, newest first (by chain position), `limit` of them. */
  listLinked(filter: LinkedEventFilter): Promise<LinkedEventRow[]> {
    const params = new SqlParams();
    const where: string[] = [];
    if (filter.actor) where.push(`e.actor->>'tokenId' = ${params.add(filter.actor)}`);
    if (filter.action) where.push(`e.action = ${params.add(filter.action)}`);
    if (filter.targetId) where.push(`e.target_id = ${params.add(filter.targetId)}`);
    if (filter.since) where.push(`e.at >= ${params.add(filter.since)}`);
    if (filter.until) where.push(`e.at < ${params.add(filter.until)}`);
    if (filter.beforeSeq !== undefined) where.push(`c.seq < ${params.add(filter.beforeSeq)}`);
    return this.dataSource.query(
      `SELECT ${LINKED_COLUMNS}
         FROM audit_chain c JOIN audit_events e ON e.id = c.event_id
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY c.seq DESC
        LIMIT ${params.add(filter.limit)}`,
      params.values,
    );
  }

  /** The chain in order after `afterSeq`, each link with its event (absent if the event row is gone). */
  linksAfter(afterSeq: number, limit: number): Promise<Array<LinkedEventRow & { event_present: boolean }>> {
    return this.dataSource.query(
      `SELECT ${LINKED_COLUMNS}, e.id IS NOT NULL AS event_present
         FROM audit_chain c LEFT JOIN audit_events e ON e.id = c.event_id
        WHERE c.seq > $1 ORDER BY c.seq LIMIT ${limit}`,
      [afterSeq],
    );
  }

  /** Events neither linked nor queued for linking: written around the service. */
  async countStray(): Promise<number> {
    const [{ stray }] = await this.dataSource.query(
      `SELECT count(*)::int AS stray FROM audit_events e
        WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id)
          AND NOT EXISTS (SELECT 1 FROM audit_unchained u WHERE u.event_id = e.id)`,
    );
    return stray;
  }

  async hasUnchained(): Promise<boolean> {
    const [{ pending }] = await this.dataSource.query('SELECT EXISTS (SELECT 1 FROM audit_unchained) AS pending');
    return pending;
  }

  /**
   * The head of the chainer's queue, up to `limit` events in commit order, and
   * the last link of the chain (null for an empty chain), in one round trip:
   * the chainer calls it once it holds the chain's lock, so the head it reads
   * is the one its links follow.
   */
  async queuedEvents(em: EntityManager, limit: number): Promise<{ events: AuditEventRow[]; head: { seq: number; hash: string } | null }> {
    const rows: Array<AuditEventRow & { head_seq: string | null; head_hash: string | null }> = await em.query(
      // The queue's head as an array, then its events by primary key. Joined to the queue instead, the
      // planner (which cannot know how short the queue is now) hashed the whole, ever-growing event table
      // for every batch: 166 ms against 0.7 ms at 60,000 events. The chain's head is read once (an InitPlan).
      `WITH head AS MATERIALIZED (SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1)
       SELECT e.id, e.at, e.actor, e.action, e.target_type, e.target_id, e.request_id, e.data,
              (SELECT seq FROM head) AS head_seq, (SELECT hash FROM head) AS head_hash
         FROM audit_events e
        WHERE e.id = ANY (ARRAY(SELECT event_id FROM audit_unchained ORDER BY created_seq LIMIT ${limit}))
        ORDER BY e.created_seq`,
    );
    if (rows.length === 0) return { events: [], head: null };
    const { head_seq: seq, head_hash: hash } = rows[0];
    return { events: rows, head: seq === null || hash === null ? null : { seq: Number(seq), hash } };
  }

  /** Appends links and takes their events off the queue, in one statement. */
  async appendLinks(em: EntityManager, links: ChainLinkRow[]): Promise<void> {
    await em.query(
      `WITH linked AS (
         INSERT INTO audit_chain (seq, event_id, prev_hash, hash, chained_at)
         SELECT seq, event_id, prev_hash, hash, chained_at
           FROM jsonb_to_recordset($1::jsonb) AS l(seq bigint, event_id uuid, prev_hash text, hash text, chained_at timestamptz)
         RETURNING event_id)
       DELETE FROM audit_unchained WHERE event_id IN (SELECT event_id FROM linked)`,
      [JSON.stringify(links)],
    );
  }
}
