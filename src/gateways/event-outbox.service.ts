import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Clock } from '../common/clock/clock';
import { RandomSource } from '../common/random/random-source';
import { containsSecretShaped, SecretValueRefusedError } from '../common/secrets/secret-shape';
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
    return (await this.publishMany(em, [input]))[0];
  }

  /**
   * Several events in one round trip (events about one credential in the
   * order given). Each answer is the event's id, timestamp and deliveries.
   */
  async publishMany(em: EntityManager, inputs: OutboxEventInput[]): Promise<PublishedEvent[]> {
    if (!em.queryRunner?.isTransactionActive) {
      throw new Error('events must be published inside the transaction of their state change');
    }
    const published: PublishedEvent[] = [];
    // A delivery waits for the pending ones of its credential that the statement can see: so one credential's
    // events go in statements of their own, one after the other.
    for (const chunk of distinctCredentialRuns(inputs)) published.push(...(await this.insertEvents(em, chunk)));
    return published;
  }

  private async insertEvents(em: EntityManager, inputs: OutboxEventInput[]): Promise<PublishedEvent[]> {
    const now = this.clock.now();
    const timestamp = now.toISOString();
    const events = inputs.map((input) => {
      const payload = JSON.stringify({ type: input.type, timestamp, data: input.data });
      // The last line of defence (free text is redacted at the request boundary): refused as bad input, never a crash.
      if (containsSecretShaped(payload)) {
        throw new SecretValueRefusedError(`a ${input.type} event`, [{ field: 'data', message: `holds a secret-shaped value` }]);
      }
      return { id: this.random.uuid(), input, payload };
    });

    // One round trip: the events, their gateway deliveries, and for each whether
    // an earlier delivery of the same credential to that gateway is pending.
    const rows: Array<{ id: string; eventId: string; gatewayId: string | null; blocked: boolean }> = await em.query(
      `WITH ev AS (
         INSERT INTO outbox_events (id, type, credential_id, environment, payload, created_at)
         SELECT id, type, credential_id, environment, payload, $6
           FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[]) WITH ORDINALITY
                AS e(id, type, credential_id, environment, payload, ord)
          ORDER BY ord
         RETURNING id, seq, type, credential_id, environment),
       inserted AS (
         INSERT INTO deliveries (id, event_id, event_seq, event_type, credential_id, target, gateway_id, status,
                                 attempts, retry_step, next_attempt_at, created_at, updated_at)
         SELECT gen_random_uuid(), ev.id, ev.seq, ev.type, ev.credential_id, 'gateway', g.id, 'pending', 0, 0, $6, $6, $6
           FROM ev JOIN gateways g ON g.status = 'active' AND ev.environment = ANY (g.environments)
         RETURNING id, event_id, gateway_id, credential_id, event_seq)
       SELECT i.id, i.event_id AS "eventId", i.gateway_id AS "gatewayId",
              EXISTS (SELECT 1 FROM deliveries p
                       WHERE p.status = 'pending' AND p.gateway_id = i.gateway_id AND p.credential_id = i.credential_id
                         AND p.event_seq < i.event_seq) AS blocked
         FROM inserted i`,
      [
        events.map((e) => e.id),
        events.map((e) => e.input.type),
        events.map((e) => e.input.credentialId),
        events.map((e) => e.input.environment),
        events.map((e) => e.payload),
        now,
      ],
    );

    const notify = this.config.notify ? events.filter((e) => e.input.notify).map((e) => e.id) : [];
    if (notify.length) {
      // The notification target: no gateway, no chain to wait in.
      const notifications: Array<{ id: string; eventId: string }> = await em.query(
        `INSERT INTO deliveries (id, event_id, event_seq, event_type, credential_id, target, gateway_id, status,
                                 attempts, retry_step, next_attempt_at, created_at, updated_at)
         SELECT gen_random_uuid(), e.id, e.seq, e.type, e.credential_id, 'notification', NULL, 'pending', 0, 0, $2, $2, $2
           FROM outbox_events e WHERE e.id = ANY ($1::uuid[])
         RETURNING id, event_id AS "eventId"`,
        [notify, now],
      );
      rows.push(...notifications.map((n) => ({ ...n, gatewayId: null, blocked: false })));
    }

    const refs: Array<DeliveryRef & { blocked: boolean }> = rows.map((row) => ({
      id: row.id,
      eventId: row.eventId,
      target: row.gatewayId ? 'gateway' : 'notification',
      gatewayId: row.gatewayId,
      blocked: row.blocked,
    }));
    if (refs.length) this.afterCommit.run(em, () => this.queue.enqueueNew(refs));
    return events.map((e) => ({ eventId: e.id, timestamp, deliveryIds: rows.filter((r) => r.eventId === e.id).map((r) => r.id) }));
  }
}

/** Events one statement writes at most. */
const MAX_EVENTS_PER_STATEMENT = 1000;

/** Splits events into runs in which no credential appears twice (and not too long), keeping their order. */
function distinctCredentialRuns(inputs: OutboxEventInput[]): OutboxEventInput[][] {
  const runs: OutboxEventInput[][] = [];
  let run: OutboxEventInput[] = [];
  let seen = new Set<string>();
  for (const input of inputs) {
    if ((input.credentialId && seen.has(input.credentialId)) || run.length >= MAX_EVENTS_PER_STATEMENT) {
      runs.push(run);
      run = [];
      seen = new Set();
    }
    run.push(input);
    if (input.credentialId) seen.add(input.credentialId);
  }
  if (run.length) runs.push(run);
  return runs;
}
