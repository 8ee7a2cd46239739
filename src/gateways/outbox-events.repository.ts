import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import type { EventType } from './entities/outbox-event.entity';

/** An event as the outbox writes it; `payload` is the webhook body's JSON. */
export interface NewOutboxEvent {
  id: string;
  type: EventType;
  credentialId: string | null;
  environment: 'sandbox' | 'production' | null;
  payload: string;
}

/** A delivery written with its event: its gateway (null for the notification target) and whether it waits in a chain. */
export interface WrittenDelivery {
  id: string;
  eventId: string;
  gatewayId: string | null;
  blocked: boolean;
}

/** The outbox_events table and the deliveries written with each event. */
@Injectable()
export class OutboxEventsRepository {
  /**
   * Writes events (in the order given) and one delivery per active gateway
   * serving each event's environment, in one round trip; each delivery says
   * whether an earlier delivery of the same credential to that gateway is
   * pending (then it waits for it).
   */
  insertWithGatewayDeliveries(em: EntityManager, events: NewOutboxEvent[], at: Date): Promise<WrittenDelivery[]> {
    return em.query(
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
        events.map((e) => e.type),
        events.map((e) => e.credentialId),
        events.map((e) => e.environment),
        events.map((e) => e.payload),
        at,
      ],
    );
  }

  /** The notification target's deliveries of events already written: no gateway, no chain to wait in. */
  async insertNotificationDeliveries(em: EntityManager, eventIds: string[], at: Date): Promise<WrittenDelivery[]> {
    const rows: Array<{ id: string; eventId: string }> = await em.query(
      `INSERT INTO deliveries (id, event_id, event_seq, event_type, credential_id, target, gateway_id, status,
                               attempts, retry_step, next_attempt_at, created_at, updated_at)
       SELECT gen_random_uuid(), e.id, e.seq, e.type, e.credential_id, 'notification', NULL, 'pending', 0, 0, $2, $2, $2
         FROM outbox_events e WHERE e.id = ANY ($1::uuid[])
       RETURNING id, event_id AS "eventId"`,
      [eventIds, at],
    );
    return rows.map((row) => ({ ...row, gatewayId: null, blocked: false }));
  }
}
