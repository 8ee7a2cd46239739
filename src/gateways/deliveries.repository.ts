import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';

import { GroupCommit } from '../common/db/group-commit';
import { fetchTimePage, Page } from '../common/pagination/pagination';
import type { DeliveryRef } from './delivery-jobs';
import { DeliveryEntity, DeliveryStatus, DeliveryTarget } from './entities/delivery.entity';
import type { GatewayStatus, SealedSigningSecret } from './entities/gateway.entity';

/** A delivery with what an attempt needs: its event's body and its gateway. */
export interface DeliveryForAttempt {
  id: string;
  eventId: string;
  eventType: string;
  eventCreatedAt: Date;
  payload: string;
  status: DeliveryStatus;
  target: DeliveryTarget;
  gatewayId: string | null;
  credentialId: string | null;
  retryStep: number;
  /** An earlier delivery of the same credential to the same target is still pending. */
  blocked: boolean;
  gateway: {
    name: string;
    url: string;
    status: GatewayStatus;
    signingSecret: SealedSigningSecret;
    previousSigningSecret: SealedSigningSecret | null;
    previousSigningSecretExpiresAt: Date | null;
  } | null;
}

export interface AttemptRecord {
  at: Date;
  statusCode: number | null;
  error: string | null;
}

/** An earlier pending delivery of the same credential to the same gateway (the chain's order). */
const EARLIER_PENDING = `EXISTS (
  SELECT 1 FROM deliveries p
  WHERE p.status = 'pending' AND p.gateway_id = d.gateway_id AND p.credential_id = d.credential_id AND p.event_seq < d.event_seq)`;

/**
 * A CTE that turns off synchronous_commit for the statement's own (implicit)
 * transaction: delivery-state writes do not wait for the WAL flush. Losing the
 * last few of them to a Postgres crash only means those deliveries are sent
 * again under the same webhook-id (a duplicate receivers drop); the events,
 * and the state changes that caused them, were committed durably by their
 * publishers. It saves a disk flush per delivery, which revocations, waiting
 * on the audit chain, would otherwise queue behind; one statement, one round trip.
 */
const RELAXED_COMMIT = `relaxed AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))`;

/** Loads or acknowledgements one statement carries at most. */
const BATCH = 100;
/** The deliveries of one event reach their load and their acknowledgement within a few ms of each other: they wait that long for one another. */
const WINDOW_MS = 2;

/** A delivery a statement just finished, and its chain (gateway and credential; either may be null: no chain). */
interface FinishedRow {
  finished: string;
  gatewayId: string | null;
  credentialId: string | null;
}

/** Ends a statement whose `done` CTE returns the deliveries it finished: one FinishedRow each. */
const FINISHED_CHAINS = 'SELECT id AS finished, gateway_id AS "gatewayId", credential_id AS "credentialId" FROM done';

const REF_COLUMNS = 'd.id, d.event_id AS "eventId", d.target, d.gateway_id AS "gatewayId", d.next_attempt_at AS "nextAttemptAt"';

/**
 * The SQL of the delivery state machine, one purpose per method. Terminal
 * transitions return the chain's next delivery (same gateway, same
 * credential), which may be attempted now.
 */
@Injectable()
export class DeliveriesRepository {
  private readonly loads = new GroupCommit<string, DeliveryForAttempt | null>((ids) => this.loadMany(ids), BATCH, WINDOW_MS);
  private readonly acks = new GroupCommit<{ id: string; attempt: AttemptRecord }, DeliveryRef | null>(
    (items) => this.markDeliveredMany(items),
    BATCH,
    WINDOW_MS,
  );

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Loads come in bursts (one per gateway of an event): they share one query. */
  loadForAttempt(id: string): Promise<DeliveryForAttempt | null> {
    return this.loads.submit(id);
  }

  private async loadMany(ids: string[]): Promise<Array<DeliveryForAttempt | null>> {
    const rows: any[] = await this.dataSource.query(
      `SELECT d.id, d.event_id, d.event_type, d.status, d.target, d.gateway_id, d.credential_id, d.retry_step,
              e.payload, e.created_at AS event_created_at,
              g.name AS gateway_name, g.url, g.status AS gateway_status, g.signing_secret, g.previous_signing_secret,
              g.previous_signing_secret_expires_at,
              ${EARLIER_PENDING} AS blocked
         FROM deliveries d
         JOIN outbox_events e ON e.id = d.event_id
         LEFT JOIN gateways g ON g.id = d.gateway_id
        WHERE d.id = ANY ($1::uuid[])`,
      [[...new Set(ids)]],
    );
    const byId = new Map(rows.map((r) => [r.id as string, toDeliveryForAttempt(r)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** Acknowledged. Returns the chain's next delivery, if any. Acknowledgements arriving together share one statement. */
  markDelivered(id: string, attempt: AttemptRecord): Promise<DeliveryRef | null> {
    return this.acks.submit({ id, attempt });
  }

  private async markDeliveredMany(items: Array<{ id: string; attempt: AttemptRecord }>): Promise<Array<DeliveryRef | null>> {
    const unique = dedupeById(items);
    const rows: FinishedRow[] = await this.dataSource.query(
      `WITH ${RELAXED_COMMIT},
       acked AS (SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::int[]) AS a(id, at, status_code)),
       done AS (
         UPDATE deliveries d SET status = 'delivered', attempts = d.attempts + 1, last_attempt_at = acked.at,
                last_status_code = acked.status_code, last_error = NULL, delivered_at = acked.at, updated_at = acked.at
           FROM relaxed, acked
          WHERE d.id = ANY ($1::uuid[]) AND d.id = acked.id AND d.status = 'pending'
          RETURNING d.id, d.gateway_id, d.credential_id)
       ${FINISHED_CHAINS}`,
      // One row per delivery (an acknowledgement retried by a stalled job may come twice); every caller gets the answer.
      [unique.map((i) => i.id), unique.map((i) => i.attempt.at), unique.map((i) => i.attempt.statusCode)],
    );
    const next = await this.nextInChains(rows);
    return items.map((i) => next.get(i.id) ?? null);
  }

  /**
   * Each finished delivery's next one: its chain's pending head, looked up
   * after the finish has committed. Looked up inside the finishing statement
   * instead, it would miss an event published while the finish was in flight:
   * that event saw the finished delivery still pending (so it waits behind
   * it), and the statement's snapshot predates the event. The publisher checks
   * its heads again after its own commit, so between the two, one always sees
   * the waiting delivery as a head and hands it over.
   */
  private async nextInChains(finished: FinishedRow[]): Promise<Map<string, DeliveryRef | null>> {
    const chained = finished.filter((f) => f.gatewayId && f.credentialId);
    const next = new Map<string, DeliveryRef | null>();
    if (chained.length === 0) return next;
    const heads: Array<DeliveryRef & { credentialId: string }> = await this.dataSource.query(
      `SELECT ${REF_COLUMNS}, d.credential_id AS "credentialId" FROM deliveries d
        WHERE (d.gateway_id, d.credential_id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))
          AND d.status = 'pending' AND NOT ${EARLIER_PENDING}`,
      [chained.map((f) => f.gatewayId), chained.map((f) => f.credentialId)],
    );
    const byChain = new Map(heads.map(({ credentialId, ...ref }) => [`${ref.gatewayId}/${credentialId}`, ref]));
    for (const f of chained) next.set(f.finished, byChain.get(`${f.gatewayId}/${f.credentialId}`) ?? null);
    return next;
  }

  /**
   * Finally failed: the schedule is used up, the gateway is gone or disabled
   * (then without an attempt). Returns the chain's next delivery, if any.
   */
  markFailed(id: string, at: Date, attempt: AttemptRecord | null, error: string): Promise<DeliveryRef | null> {
    return this.finish(id, 'failed', at, attempt, error);
  }

  /**
   * A failed attempt, to be tried again at `nextAttemptAt`: recorded only if
   * the delivery is still pending at the retry step the attempt started from,
   * so two runs of one delivery at once (a job taken back from a worker that
   * froze) count one failure, not two. False when another run recorded it.
   */
  async recordRetry(id: string, fromRetryStep: number, attempt: AttemptRecord, nextAttemptAt: Date): Promise<boolean> {
    const rows = await this.dataSource.query(
      `WITH ${RELAXED_COMMIT} UPDATE deliveries SET attempts = attempts + 1, retry_step = retry_step + 1, last_attempt_at = $2,
              last_status_code = $3, last_error = $4, next_attempt_at = $5, updated_at = $2
        FROM relaxed WHERE id = $1 AND status = 'pending' AND retry_step = $6
        RETURNING deliveries.id`,
      [id, attempt.at, attempt.statusCode, attempt.error, nextAttemptAt, fromRetryStep],
    );
    return unwrapUpdate(rows).length > 0;
  }

  /** The chain's next pending delivery after this one (same gateway, same credential), if any. */
  async nextInChain(id: string): Promise<DeliveryRef | null> {
    const rows: DeliveryRef[] = await this.dataSource.query(
      `SELECT ${REF_COLUMNS} FROM deliveries f
         JOIN deliveries d ON d.gateway_id = f.gateway_id AND d.credential_id = f.credential_id AND d.event_seq > f.event_seq
        WHERE f.id = $1 AND d.status = 'pending'
        ORDER BY d.event_seq LIMIT 1`,
      [id],
    );
    return rows[0] ?? null;
  }

  /** Of these deliveries, the pending ones at the head of their chain (nothing earlier pending). */
  async headsAmong(ids: string[]): Promise<DeliveryRef[]> {
    if (ids.length === 0) return [];
    return this.dataSource.query(
      `SELECT ${REF_COLUMNS} FROM deliveries d
        WHERE d.id = ANY($1::uuid[]) AND d.status = 'pending' AND NOT ${EARLIER_PENDING}`,
      [ids],
    );
  }

  /**
   * One page of the pending chain heads whose attempt is due by `until`, in
   * (next attempt, id) order after `after` (the job sweep's work list; the
   * rest wait for their predecessor or their backoff). Read through
   * deliveries_pending_due_idx, so a backlog waiting on later backoffs costs nothing.
   */
  async dueHeads(em: EntityManager, until: Date, after: { at: Date; id: string } | null, limit: number): Promise<DeliveryRef[]> {
    return em.query(
      `SELECT ${REF_COLUMNS} FROM deliveries d
        WHERE d.status = 'pending' AND d.next_attempt_at <= $1
          AND ($2::timestamptz IS NULL OR (d.next_attempt_at, d.id) > ($2::timestamptz, $3::uuid))
          AND NOT ${EARLIER_PENDING}
        ORDER BY d.next_attempt_at, d.id
        LIMIT $4`,
      [until, after?.at ?? null, after?.id ?? null, limit],
    );
  }

  /**
   * A gateway answered again after failures: its other chain heads waiting on
   * a backoff become due now. Returns them so their jobs can be promoted.
   */
  async wakeWaiting(gatewayId: string, now: Date): Promise<DeliveryRef[]> {
    const rows: Array<[DeliveryRef[], number]> | DeliveryRef[] = await this.dataSource.query(
      `UPDATE deliveries d SET next_attempt_at = $2, updated_at = $2
        WHERE d.gateway_id = $1 AND d.status = 'pending' AND d.next_attempt_at > $2 AND NOT ${EARLIER_PENDING}
        RETURNING ${REF_COLUMNS}`,
      [gatewayId, now],
    );
    return unwrapUpdate(rows);
  }

  /** Newest first, by gateway and status if asked. */
  list(query: { gatewayId?: string; status?: DeliveryStatus; limit?: number; cursor?: string }): Promise<Page<DeliveryEntity>> {
    const qb = this.dataSource.getRepository(DeliveryEntity).createQueryBuilder('d');
    if (query.gatewayId) qb.andWhere('d.gateway_id = :gatewayId', { gatewayId: query.gatewayId });
    if (query.status) qb.andWhere('d.status = :status', { status: query.status });
    return fetchTimePage(qb, 'd', query, (row) => row);
  }

  /** The deliveries of some events, in event order, then by gateway. */
  forEvents(eventIds: string[]): Promise<DeliveryEntity[]> {
    return this.dataSource
      .getRepository(DeliveryEntity)
      .find({ where: { eventId: In(eventIds) }, order: { eventSeq: 'ASC', gatewayId: 'ASC' } });
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

  private async finish(
    id: string,
    status: 'delivered' | 'failed',
    at: Date,
    attempt: AttemptRecord | null,
    error: string | null,
  ): Promise<DeliveryRef | null> {
    const rows: FinishedRow[] = await this.dataSource.query(
      `WITH ${RELAXED_COMMIT}, done AS (
         UPDATE deliveries SET status = $2,
                attempts = attempts + $4::int,
                last_attempt_at = CASE WHEN $4::int = 1 THEN $3 ELSE last_attempt_at END,
                last_status_code = CASE WHEN $4::int = 1 THEN $5::int ELSE last_status_code END,
                last_error = $6,
                delivered_at = CASE WHEN $2 = 'delivered' THEN $3 END,
                failed_at = CASE WHEN $2 = 'failed' THEN $3 END,
                updated_at = $3
           FROM relaxed WHERE id = $1 AND status = 'pending'
          RETURNING id, gateway_id, credential_id)
       ${FINISHED_CHAINS}`,
      [id, status, at, attempt ? 1 : 0, attempt?.statusCode ?? null, error],
    );
    return (await this.nextInChains(rows)).get(id) ?? null;
  }
}

function toDeliveryForAttempt(r: any): DeliveryForAttempt {
  return {
    id: r.id,
    eventId: r.event_id,
    eventType: r.event_type,
    eventCreatedAt: r.event_created_at,
    payload: r.payload,
    status: r.status,
    target: r.target,
    gatewayId: r.gateway_id,
    credentialId: r.credential_id,
    retryStep: r.retry_step,
    blocked: r.blocked,
    gateway: r.gateway_id
      ? {
          name: r.gateway_name,
          url: r.url,
          status: r.gateway_status,
          signingSecret: r.signing_secret,
          previousSigningSecret: r.previous_signing_secret,
          previousSigningSecretExpiresAt: r.previous_signing_secret_expires_at,
        }
      : null,
  };
}

function dedupeById<T extends { id: string }>(items: T[]): T[] {
  return [...new Map(items.map((item) => [item.id, item])).values()];
}

/** node-postgres through TypeORM answers UPDATE ... RETURNING with [rows, count]. */
function unwrapUpdate<T>(result: Array<[T[], number]> | T[] | [T[], number]): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return result as T[];
}
