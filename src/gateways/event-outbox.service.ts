import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Clock } from '../common/clock/clock';
import { RandomSource } from '../common/random/random-source';
import { AppConfig } from '../config/app-config';
import { AfterCommit } from './after-commit';
import { DeliveryQueue } from './delivery-queue';
import type { DeliveryRef } from './delivery-jobs';
import type { EventType } from './entities/outbox-event.entity';

export type { EventType };

export interface OutboxEventInput {
  type: EventType;
  /**
   * Orders deliveries: a target receives one credential's events in the order
   * they were published. Publishers hold the credential's row lock, so publish
   * order is commit order. Null for events about no credential.
   */
  credentialId: string | null;
  /** Routes the event to every active gateway serving this environment. */
  environment: 'sandbox' | 'production' | null;
  /** The body's `data`. Never a plaintext secret: a secret's SHA-256 and its store reference only. */
  data: Record<string, unknown>;
  /** Also deliver it to the notification webhook (NOTIFY_WEBHOOK_URL), when one is configured: review reminders. */
  notify?: boolean;
}

export interface PublishedEvent {
  eventId: string;
  timestamp: string;
  deliveryIds: string[];
}

/** Our secrets, tokens and signing secrets are recognisable by prefix; none may leave in an event. */
const SECRET_LIKE = /\b(agk_(live|test)_|agt_|whsec_)[A-Za-z0-9_+/=-]{16,}/;

/**
 * The transactional outbox. `publish` writes the event and one delivery row
 * per target inside the caller's transaction; the jobs are enqueued once that
 * transaction commits (and the outbox sweep re-enqueues any that go missing).
 *
 * Targets: every active gateway serving the event's environment. Another kind
 * of target (the review notification webhook) is one more INSERT here with
 * `target = 'notification'` and no gateway id; the worker resolves its URL and
 * key by `target`.
 */
@Injectable()
export class EventOutbox {
  constructor(
    private readonly afterCommit: AfterCommit,
    private readonly queue: DeliveryQueue,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly config: AppConfig,
  ) {}

  async publish(em: EntityManager, input: OutboxEventInput): Promise<PublishedEvent> {
    if (!em.queryRunner?.isTransactionActive) {
      throw new Error('events must be published inside the transaction of their state change');
    }
    const eventId = this.random.uuid();
    const now = this.clock.now();
    const timestamp = now.toISOString();
    const payload = JSON.stringify({ type: input.type, timestamp, data: input.data });
    if (SECRET_LIKE.test(payload)) throw new Error(`refusing to publish a secret-like value in a ${input.type} event`);

    // One round trip: the event, its gateway deliveries, and for each whether
    // an earlier delivery of the same credential to that gateway is pending.
    const rows: Array<{ id: string; gatewayId: string | null; blocked: boolean }> = await em.query(
      `WITH ev AS (
         INSERT INTO outbox_events (id, type, credential_id, environment, payload, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, seq),
       inserted AS (
         INSERT INTO deliveries (id, event_id, event_seq, event_type, credential_id, target, gateway_id, status,
                                 attempts, retry_step, next_attempt_at, created_at, updated_at)
         SELECT gen_random_uuid(), ev.id, ev.seq, $2, $3, 'gateway', g.id, 'pending', 0, 0, $6, $6, $6
           FROM ev, gateways g
          WHERE g.status = 'active' AND $4 = ANY (g.environments)
         RETURNING id, gateway_id, event_seq)
       SELECT i.id, i.gateway_id AS "gatewayId",
              EXISTS (SELECT 1 FROM deliveries p
                       WHERE p.status = 'pending' AND p.gateway_id = i.gateway_id AND p.credential_id = $3
                         AND p.event_seq < i.event_seq) AS blocked
         FROM inserted i`,
      [eventId, input.type, input.credentialId, input.environment, payload, now],
    );

    const refs: Array<DeliveryRef & { blocked: boolean }> = rows.map((row) => ({
      id: row.id,
      eventId,
      target: 'gateway',
      gatewayId: row.gatewayId,
      blocked: row.blocked,
    }));
    if (input.notify && this.config.notify) {
      // The notification target: no gateway, no chain to wait in.
      const [notification]: Array<{ id: string }> = await em.query(
        `INSERT INTO deliveries (id, event_id, event_seq, event_type, credential_id, target, gateway_id, status,
                                 attempts, retry_step, next_attempt_at, created_at, updated_at)
         SELECT gen_random_uuid(), e.id, e.seq, e.type, e.credential_id, 'notification', NULL, 'pending', 0, 0, $2, $2, $2
           FROM outbox_events e WHERE e.id = $1
         RETURNING id`,
        [eventId, now],
      );
      rows.push({ id: notification.id, gatewayId: null, blocked: false });
      refs.push({ id: notification.id, eventId, target: 'notification', gatewayId: null, blocked: false });
    }
    if (refs.length) this.afterCommit.run(em, () => this.queue.enqueueNew(refs));
    return { eventId, timestamp, deliveryIds: rows.map((r) => r.id) };
  }
}
