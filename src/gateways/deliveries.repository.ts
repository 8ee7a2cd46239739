import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';

import { arrayLiteral } from '../common/db/array-literal';
import { GroupCommit } from '../common/db/group-commit';
import { fetchTimePage, fetchTimePageOf, Page } from '../common/pagination/pagination';
import type { DeliveryRef } from './delivery-jobs';
import { DeliveryEntity, DeliveryStatus, DeliveryTarget, SETTLED } from './entities/delivery.entity';
import type { GatewayStatus, SealedSigningSecret } from './entities/gateway.entity';

/** A delivery a drain sends: its event's body and what its outcome is recorded against. */
export interface DeliveryToSend {
  id: string;
  eventId: string;
  eventType: string;
  /** When the event was written, epoch ms (read as a number: parsing a timestamp per row cost more than the rest of the row). */
  eventCreatedMs: number;
  payload: string;
  credentialId: string | null;
  retryStep: number;
}

/** What a drain needs of its gateway, read with each batch (a rotation or a disable between batches is seen). */
export interface DrainGateway {
  name: string;
  url: string;
  status: GatewayStatus;
  batchEvents: boolean;
  signingSecret: SealedSigningSecret;
  previousSigningSecret: SealedSigningSecret | null;
  previousSigningSecretExpiresAt: Date | null;
}

/** One batch of a drain: due chain heads in event order, and their gateway (null for the notification target). */
export interface DrainBatch {
  gateway: DrainGateway | null;
  deliveries: DeliveryToSend[];
  /**
   * When the batch is empty: when the target's earliest chain head waiting on
   * a backoff is due, null when nothing is pending (read in the same
   * statement, so an idle drain asks once). Undefined when the batch has deliveries.
   */
  nextDueAt?: Date | null;
}

export interface AttemptRecord {
  at: Date;
  statusCode: number | null;
  error: string | null;
}

/**
 * What became of one delivery in a batch: acknowledged, to be retried at
 * `nextAttemptAt`, or failed for good. `attempted` is false for a delivery
 * failed without a request (its gateway disabled, its URL refused).
 */
export interface DeliveryOutcome {
  id: string;
  outcome: 'delivered' | 'retry' | 'failed';
  attempted: boolean;
  at: Date;
  statusCode: number | null;
  error: string | null;
  nextAttemptAt: Date | null;
  /** The retry step the attempt started from: a retry is recorded only from it, so two runs of one delivery count one failure. */
  fromRetryStep: number;
}

/**
 * An earlier pending delivery of the same credential to the same gateway (the
 * chain's order), probed per candidate row through deliveries_chain_idx by
 * (gateway, credential, event_seq): a chain has a pending delivery or two. The
 * plan must not depend on statistics: on a deliveries table whose statistics
 * predate a burst (a fresh table, or one mostly delivered before a mass
 * revocation) the planner expects about one pending row per gateway, and it
 * - turned the EXISTS into an anti-join probing by gateway alone, rescanning
 *   every pending row of the gateway per candidate (`OFFSET 0` keeps the
 *   EXISTS a per-row probe);
 * - probed deliveries_gateway_pending_idx by (gateway, event_seq <) and
 *   filtered on the credential, reading every earlier pending row of the
 *   gateway per candidate (that index's predicate now names next_attempt_at,
 *   which this probe does not, so it cannot use it:
 *   migrations/1796537322396-ChainProbeIndex.ts).
 * Either made a 500-row batch read over 10,000 pending rows take 0.4-3 s
 * instead of milliseconds (docs/delivery.md, "The chain-head read").
 */
const EARLIER_PENDING = `EXISTS (
  SELECT 1 FROM deliveries p
  WHERE p.status = 'pending' AND p.gateway_id = d.gateway_id AND p.credential_id = d.credential_id AND p.event_seq < d.event_seq
  OFFSET 0)`;

/** Each gateway's batch of due chain heads (one LATERAL read per gateway), or when it is empty, when its next head is due. */
const DUE_BATCHES_SQL = `SELECT r.ord, g.xmin::text AS gateway_version, x.*,
        CASE WHEN x.id IS NULL THEN (
          SELECT min(d.next_attempt_at) FROM deliveries d
           WHERE d.gateway_id = r.gateway_id AND d.status = 'pending' AND NOT ${EARLIER_PENDING}) END AS next_due
   FROM unnest($1::uuid[], $2::timestamptz[], $3::int[]) WITH ORDINALITY AS r(gateway_id, due_by, lim, ord)
   JOIN gateways g ON g.id = r.gateway_id
 LEFT JOIN LATERAL (
   SELECT d.id, d.event_id, d.event_type, d.credential_id, d.retry_step, e.payload, (extract(epoch FROM e.created_at) * 1000)::float8 AS event_created_ms
     FROM deliveries d JOIN outbox_events e ON e.id = d.event_id
    WHERE d.gateway_id = r.gateway_id AND d.status = 'pending' AND d.next_attempt_at <= r.due_by AND NOT ${EARLIER_PENDING}
    ORDER BY d.event_seq
    LIMIT r.lim) x ON true`;

/**
 * A CTE that turns off synchronous_commit for the statement's own (implicit)
 * transaction: delivery-state writes do not wait for the WAL flush. Losing the
 * last few of them to a Postgres crash only means those deliveries are sent
 * again under the same webhook-id (a duplicate receivers drop); the events,
 * and the state changes that caused them, were committed durably by their
 * publishers. It saves a disk flush per batch, which revocations, waiting
 * on the audit chain, would otherwise queue behind; one statement, one round trip.
 */
const RELAXED_COMMIT = `relaxed AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))`;

const REF_COLUMNS = 'd.id, d.event_id AS "eventId", d.target, d.gateway_id AS "gatewayId", d.next_attempt_at AS "nextAttemptAt"';

/** Which deliveries a drain target owns: one gateway's, or the notification webhook's. */
function targetFilter(gatewayId: string | null): string {
  return gatewayId ? 'd.gateway_id = $1::uuid' : `d.target = 'notification' AND $1::uuid IS NULL`;
}

/** Drains whose reads (or records) one statement carries at most. */
const GROUP = 100;
/** The drains of one event's gateways start within a few ms of each other: their reads and records wait that long for one another. */
const WINDOW_MS = 2;

interface BatchRead {
  gatewayId: string | null;
  dueBy: Date;
  limit: number;
}

function toDeliveryToSend(r: any): DeliveryToSend {
  return {
    id: r.id,
    eventId: r.event_id,
    eventType: r.event_type,
    eventCreatedMs: r.event_created_ms,
    payload: r.payload,
    credentialId: r.credential_id,
    retryStep: r.retry_step,
  };
}

/**
 * The SQL of the delivery state machine, one purpose per method. A drain
 * reads a batch of its target's due chain heads (dueBatch), sends them, and
 * records every outcome of the batch in one UPDATE (recordOutcomes); the
 * chain's next delivery is a head in its next read.
 */
/** A target's deliveries over some events, counted by state. */
export interface DeliverySummaryRow {
  gatewayId: string | null;
  target: DeliveryTarget;
  total: number;
  delivered: number;
  pending: number;
  failed: number;
  attempts: number;
  lastDeliveredAt: Date | null;
  lastError: string | null;
  lastStatusCode: number | null;
  deliveryIds: string[] | null;
}

@Injectable()
export class DeliveriesRepository {
  /** Each drained gateway as last read, with its row version. */
  private readonly gateways = new Map<string, { stamp: string; gateway: DrainGateway }>();
  private readonly reads = new GroupCommit<BatchRead, DrainBatch>((reads) => this.dueBatches(reads), GROUP, WINDOW_MS);
  private readonly records = new GroupCommit<DeliveryOutcome[], Set<string>>((batches) => this.recordMany(batches), GROUP, WINDOW_MS);

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Up to `limit` pending deliveries of a target that are due by `dueBy` and
   * head their chain (no earlier delivery of the same credential to the same
   * gateway is pending), in event order, with their gateway. Distinct chains:
   * they may be sent in any order, or at once. Read through
   * deliveries_gateway_pending_idx. The drains of one event's gateways read
   * within a few ms of each other: they share one statement.
   */
  dueBatch(gatewayId: string | null, dueBy: Date, limit: number): Promise<DrainBatch> {
    return this.reads.submit({ gatewayId, dueBy, limit });
  }

  /**
   * The plan of the batch read for these gateways, executed (EXPLAIN ANALYZE,
   * JSON): test/gateways/chain-head-read.e2e-spec.ts checks that its chain
   * probe stays an index probe by credential whatever the statistics say.
   */
  async explainDueBatch(gatewayIds: string[], dueBy: Date, limit: number): Promise<unknown> {
    const rows: Array<{ 'QUERY PLAN': unknown }> = await this.dataSource.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${DUE_BATCHES_SQL}`, [
      gatewayIds,
      gatewayIds.map(() => dueBy),
      gatewayIds.map(() => limit),
    ]);
    return rows[0]['QUERY PLAN'];
  }

  private async dueBatches(reads: BatchRead[]): Promise<DrainBatch[]> {
    const gatewayReads = reads.filter((r) => r.gatewayId !== null);
    const rows: any[] = gatewayReads.length
      ? await this.dataSource.query(DUE_BATCHES_SQL, [
          gatewayReads.map((r) => r.gatewayId),
          gatewayReads.map((r) => r.dueBy),
          gatewayReads.map((r) => r.limit),
        ])
      : [];
    const byRead = new Map<number, DeliveryToSend[]>();
    const nextDue = new Map<number, Date | null>();
    const versions = new Map<string, string>();
    for (const r of rows) {
      if (r.id === null) {
        nextDue.set(Number(r.ord), r.next_due);
        continue;
      }
      versions.set(gatewayReads[Number(r.ord) - 1].gatewayId!, r.gateway_version);
      const list = byRead.get(Number(r.ord)) ?? [];
      list.push(toDeliveryToSend(r));
      byRead.set(Number(r.ord), list);
    }
    const gateways = await this.gatewaysOf(versions);
    let ord = 0;
    return Promise.all(
      reads.map(async (read) => {
        if (read.gatewayId === null) {
          const deliveries = await this.notificationBatch(read);
          return { gateway: null, deliveries, ...(deliveries.length ? {} : { nextDueAt: await this.nextDueAt(null) }) };
        }
        const deliveries = byRead.get(++ord) ?? [];
        if (deliveries.length === 0) return { gateway: null, deliveries, nextDueAt: nextDue.get(ord) ?? null };
        return { gateway: gateways.get(read.gatewayId) ?? null, deliveries };
      }),
    );
  }

  private async notificationBatch(read: BatchRead): Promise<DeliveryToSend[]> {
    const rows: any[] = await this.dataSource.query(
      `SELECT d.id, d.event_id, d.event_type, d.credential_id, d.retry_step, e.payload, (extract(epoch FROM e.created_at) * 1000)::float8 AS event_created_ms
         FROM deliveries d JOIN outbox_events e ON e.id = d.event_id
        WHERE d.target = 'notification' AND d.status = 'pending' AND d.next_attempt_at <= $1
        ORDER BY d.event_seq
        LIMIT $2`,
      [read.dueBy, read.limit],
    );
    return rows.map(toDeliveryToSend);
  }

  /** Gateways as a drain needs them, read again only when their row changed (a new row version: xmin). */
  private async gatewaysOf(versions: Map<string, string>): Promise<Map<string, DrainGateway>> {
    const found = new Map<string, DrainGateway>();
    const stale = [...versions].filter(([id, version]) => this.gateways.get(id)?.stamp !== version).map(([id]) => id);
    if (stale.length) {
      const rows: any[] = await this.dataSource.query(
        `SELECT id, xmin::text AS version, name, url, status, batch_events, signing_secret, previous_signing_secret,
                previous_signing_secret_expires_at
           FROM gateways WHERE id = ANY ($1::uuid[])`,
        [stale],
      );
      for (const g of rows) {
        this.gateways.set(g.id, {
          stamp: g.version,
          gateway: {
            name: g.name,
            url: g.url,
            status: g.status,
            batchEvents: g.batch_events,
            signingSecret: g.signing_secret,
            previousSigningSecret: g.previous_signing_secret,
            previousSigningSecretExpiresAt: g.previous_signing_secret_expires_at,
          },
        });
      }
    }
    for (const id of versions.keys()) {
      const cached = this.gateways.get(id);
      if (cached) found.set(id, cached.gateway);
    }
    return found;
  }

  /** When the target's next chain head waiting on a backoff is due; null when nothing is pending. */
  async nextDueAt(gatewayId: string | null): Promise<Date | null> {
    const rows: Array<{ at: Date | null }> = await this.dataSource.query(
      `SELECT min(d.next_attempt_at) AS at FROM deliveries d
        WHERE ${targetFilter(gatewayId)} AND d.status = 'pending' AND NOT ${EARLIER_PENDING}`,
      [gatewayId],
    );
    return rows[0]?.at ?? null;
  }

  /**
   * Every outcome of a batch in one statement. A delivery already finished
   * (a second run of the same drain got there first) is left as it is, and a
   * retry is counted only from the step its attempt started at. Returns the
   * ids whose row changed.
   */
  async recordOutcomes(outcomes: DeliveryOutcome[]): Promise<Set<string>> {
    if (outcomes.length === 0) return new Set();
    return this.records.submit(outcomes);
  }

  /** The outcomes of several drains' batches, recorded together; each drain gets the whole set of ids changed. */
  private async recordMany(batches: DeliveryOutcome[][]): Promise<Array<Set<string>>> {
    const outcomes = batches.flat();
    const rows = await this.dataSource.query(
      `WITH ${RELAXED_COMMIT},
       o AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::int[], $6::text[], $7::timestamptz[], $8::int[])
                AS o(id, outcome, attempted, at, status_code, error, next_attempt_at, from_step))
       UPDATE deliveries d SET
              status = CASE WHEN o.outcome = 'retry' THEN 'pending' ELSE o.outcome END,
              attempts = d.attempts + o.attempted,
              retry_step = CASE WHEN o.outcome = 'retry' THEN d.retry_step + 1 ELSE d.retry_step END,
              last_attempt_at = CASE WHEN o.attempted = 1 THEN o.at ELSE d.last_attempt_at END,
              last_status_code = CASE WHEN o.attempted = 1 THEN o.status_code ELSE d.last_status_code END,
              last_error = o.error,
              next_attempt_at = CASE WHEN o.outcome = 'retry' THEN o.next_attempt_at ELSE d.next_attempt_at END,
              delivered_at = CASE WHEN o.outcome = 'delivered' THEN o.at END,
              failed_at = CASE WHEN o.outcome = 'failed' THEN o.at END,
              updated_at = o.at
         FROM relaxed, o
        WHERE d.id = ANY ($1::uuid[]) AND d.id = o.id AND d.status = 'pending' AND (o.outcome <> 'retry' OR d.retry_step = o.from_step)
        RETURNING d.id`,
      [
        arrayLiteral(outcomes, (o) => o.id),
        arrayLiteral(outcomes, (o) => o.outcome),
        arrayLiteral(outcomes, (o) => (o.attempted ? 1 : 0)),
        arrayLiteral(outcomes, (o) => o.at.toISOString()),
        arrayLiteral(outcomes, (o) => o.statusCode),
        outcomes.map((o) => o.error),
        arrayLiteral(outcomes, (o) => o.nextAttemptAt?.toISOString() ?? null),
        arrayLiteral(outcomes, (o) => o.fromRetryStep),
      ],
    );
    const changed = new Set(unwrapUpdate<{ id: string }>(rows).map((r) => r.id));
    return batches.map(() => changed);
  }

  /**
   * The earliest pending chain head of each target whose attempt is due by
   * `until` (the job sweep's work list: a target's drain carries all of its
   * heads, so one row per target is enough, however large its backlog). One
   * page of targets, by gateway id after `after` (the notification target
   * first, on the first page). Each gateway's head is read through
   * deliveries_pending_due_idx's order on its own rows, so a backlog waiting
   * on later backoffs costs nothing.
   */
  async dueHeads(em: EntityManager, until: Date, after: { at: Date; id: string } | null, limit: number): Promise<DeliveryRef[]> {
    const notification: DeliveryRef[] =
      after === null
        ? await em.query(
            `SELECT ${REF_COLUMNS} FROM deliveries d
              WHERE d.target = 'notification' AND d.status = 'pending' AND d.next_attempt_at <= $1
              ORDER BY d.next_attempt_at, d.id LIMIT 1`,
            [until],
          )
        : [];
    const gateways: DeliveryRef[] = await em.query(
      `SELECT h.* FROM gateways g CROSS JOIN LATERAL (
         SELECT ${REF_COLUMNS} FROM deliveries d
          WHERE d.gateway_id = g.id AND d.status = 'pending' AND d.next_attempt_at <= $1 AND NOT ${EARLIER_PENDING}
          ORDER BY d.next_attempt_at, d.id LIMIT 1) h
        WHERE ($2::uuid IS NULL OR g.id > $2::uuid)
        ORDER BY g.id
        LIMIT $3`,
      [until, after?.id ?? null, limit],
    );
    return [...notification, ...gateways];
  }

  /**
   * A gateway answered again after failures: its other chain heads waiting on
   * a backoff become due now (the drain's next batch sends them). Returns how many.
   */
  async wakeWaiting(gatewayId: string, now: Date): Promise<number> {
    const rows = await this.dataSource.query(
      `UPDATE deliveries d SET next_attempt_at = $2, updated_at = $2
        WHERE d.gateway_id = $1 AND d.status = 'pending' AND d.next_attempt_at > $2 AND NOT ${EARLIER_PENDING}
        RETURNING d.id`,
      [gatewayId, now],
    );
    return unwrapUpdate(rows).length;
  }

  /**
   * Newest first, by gateway and status if asked. Settled deliveries are read
   * by (status | gateway, created_at) through the two indexes that hold settled
   * rows only (an insert writes neither: migrations/1796571097246-SettledDeliveryIndexes.ts);
   * pending ones, a backlog, through the pending indexes and sorted. A
   * gateway's list of every state is the newest of both.
   */
  list(query: { gatewayId?: string; status?: DeliveryStatus; limit?: number; cursor?: string }): Promise<Page<DeliveryEntity>> {
    const of = (statuses: readonly DeliveryStatus[] | null) => {
      const qb = this.dataSource.getRepository(DeliveryEntity).createQueryBuilder('d');
      if (query.gatewayId) qb.andWhere('d.gateway_id = :gatewayId', { gatewayId: query.gatewayId });
      if (statuses) qb.andWhere('d.status IN (:...statuses)', { statuses });
      return qb;
    };
    if (query.status) return fetchTimePage(of([query.status]), 'd', query, (row) => row);
    if (!query.gatewayId) return fetchTimePage(of(null), 'd', query, (row) => row);
    return fetchTimePageOf([of(SETTLED), of(['pending'])], 'd', query, (row) => row);
  }

  /** The deliveries of some events, in event order, then by gateway. */
  forEvents(eventIds: string[]): Promise<DeliveryEntity[]> {
    return this.dataSource
      .getRepository(DeliveryEntity)
      .find({ where: { eventId: In(eventIds) }, order: { eventSeq: 'ASC', gatewayId: 'ASC' } });
  }

  /**
   * The deliveries of some events counted per target (a gateway, or the
   * notification webhook), in one aggregate: what a revocation of ten
   * thousand credentials reports without reading a hundred thousand rows
   * into memory. `withIds` adds each target's delivery ids, by event order.
   */
  summaryByTarget(eventIds: string[], withIds: boolean): Promise<DeliverySummaryRow[]> {
    return this.dataSource.query(
      `SELECT gateway_id AS "gatewayId", target,
              count(*)::int AS total,
              count(*) FILTER (WHERE status = 'delivered')::int AS delivered,
              count(*) FILTER (WHERE status = 'pending')::int AS pending,
              count(*) FILTER (WHERE status = 'failed')::int AS failed,
              sum(attempts)::int AS attempts,
              max(delivered_at) AS "lastDeliveredAt",
              (array_agg(last_error ORDER BY status = 'delivered', event_seq) FILTER (WHERE last_error IS NOT NULL))[1] AS "lastError",
              (array_agg(last_status_code ORDER BY status = 'delivered' OR last_error IS NULL, event_seq DESC))[1] AS "lastStatusCode",
              ${withIds ? 'array_agg(id ORDER BY event_seq)' : 'NULL::uuid[]'} AS "deliveryIds"
         FROM deliveries WHERE event_id = ANY ($1::uuid[])
        GROUP BY gateway_id, target ORDER BY min(event_seq), gateway_id`,
      [eventIds],
    );
  }

  /**
   * How many deliveries of each group of events are pending or failed (a
   * revocation's propagation status, for many revocations at once): the
   * caller labels each event with its group.
   */
  async statusCountsByGroup(
    events: Array<{ eventId: string; group: string }>,
  ): Promise<Map<string, { total: number; pending: number; failed: number }>> {
    const rows: Array<{ group: string; total: number; pending: number; failed: number }> = await this.dataSource.query(
      `SELECT e.grp AS "group", count(d.id)::int AS total,
              count(*) FILTER (WHERE d.status = 'pending')::int AS pending,
              count(*) FILTER (WHERE d.status = 'failed')::int AS failed
         FROM unnest($1::uuid[], $2::text[]) AS e(event_id, grp) JOIN deliveries d ON d.event_id = e.event_id
        GROUP BY e.grp`,
      [events.map((e) => e.eventId), events.map((e) => e.group)],
    );
    return new Map(rows.map(({ group, ...counts }) => [group, counts]));
  }

  lockForChange(em: EntityManager, id: string): Promise<DeliveryEntity | null> {
    return em.findOne(DeliveryEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  /** Whether a later event of the same credential has been written for the same target (gateway or notification). */
  async laterEventExists(
    em: EntityManager,
    delivery: Pick<DeliveryEntity, 'gatewayId' | 'target' | 'credentialId' | 'eventSeq'>,
  ): Promise<boolean> {
    const later: unknown[] = await em.query(
      `SELECT 1 FROM deliveries WHERE gateway_id IS NOT DISTINCT FROM $1 AND target = $2 AND credential_id = $3 AND event_seq > $4 LIMIT 1`,
      [delivery.gatewayId, delivery.target, delivery.credentialId, delivery.eventSeq],
    );
    return later.length > 0;
  }

  /** A failed delivery pending again, due now, with a fresh retry schedule. */
  async restart(em: EntityManager, id: string, at: Date): Promise<void> {
    await em.update(DeliveryEntity, { id }, { status: 'pending', retryStep: 0, nextAttemptAt: at, failedAt: null, updatedAt: at });
  }

  /** How many deliveries are pending, and when the oldest was written. */
  async backlog(): Promise<{ backlog: number; oldest: Date | null }> {
    const rows: Array<{ backlog: number; oldest: Date | null }> = await this.dataSource.query(
      `SELECT count(*)::int AS backlog, min(created_at) AS oldest FROM deliveries WHERE status = 'pending'`,
    );
    return { backlog: rows[0]?.backlog ?? 0, oldest: rows[0]?.oldest ?? null };
  }

  /** Every pending delivery to a gateway fails at once (it answered 410 and is disabled). */
  async failAllPendingFor(em: EntityManager, gatewayId: string, at: Date, error: string): Promise<number> {
    const rows = await em.query(
      `UPDATE deliveries SET status = 'failed', failed_at = $2, last_error = $3, updated_at = $2
        WHERE gateway_id = $1 AND status = 'pending' RETURNING id`,
      [gatewayId, at, error],
    );
    return unwrapUpdate(rows).length;
  }
}

/** node-postgres through TypeORM answers UPDATE ... RETURNING with [rows, count]. */
function unwrapUpdate<T>(result: Array<[T[], number]> | T[] | [T[], number]): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return result as T[];
}
