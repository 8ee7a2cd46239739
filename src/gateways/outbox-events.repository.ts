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

/** A delivery written with its event: its gateway (null for the notification target). */
export interface WrittenDelivery {
  /** Null when the ids were not asked for (one row per gateway then). */
  id: string | null;
  eventId: string | null;
  gatewayId: string | null;
}

/**
 * A delivery's id, drawn by Postgres per row: a UUIDv7 (the statement's
 * millisecond in the first 48 bits, version 7, the rest of gen_random_uuid()'s
 * random bits). A bulk chunk writes ten thousand deliveries in one statement;
 * with random ids each went to a random page of the primary key's index
 * (pages dirtied, split and, after a checkpoint, written whole to the WAL), with
 * time-ordered ids they go to its right edge. With the events' ids
 * time-ordered too (EventOutboxService), the insert of a 1,000-event chunk to
 * ten gateways took about a fifth less time on this machine (docs/delivery.md).
 */
const DELIVERY_ID = `encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                     placing substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
                     52, 1), 53, 1), 'hex')::uuid`;

/** The outbox_events table and the deliveries written with each event. */
@Injectable()
export class OutboxEventsRepository {
  /**
   * Writes events (in the order given) and one delivery per active gateway
   * serving each event's environment, in one round trip. A delivery behind an
   * earlier pending one of the same credential waits for it: the drain reads chain heads only.
   * Without `withIds`, answers one row per gateway written to (id and eventId
   * null): what waking the drains needs, not ten thousand rows for a chunk of
   * a bulk revocation.
   */
  insertWithGatewayDeliveries(em: EntityManager, events: NewOutboxEvent[], at: Date, withIds = true): Promise<WrittenDelivery[]> {
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
         SELECT ${DELIVERY_ID}, ev.id, ev.seq, ev.type, ev.credential_id, 'gateway', g.id, 'pending', 0, 0, $6, $6, $6
           FROM ev JOIN gateways g ON g.status = 'active' AND ev.environment = ANY (g.environments)
         RETURNING id, event_id, gateway_id)
       ${
         withIds
           ? 'SELECT i.id, i.event_id AS "eventId", i.gateway_id AS "gatewayId" FROM inserted i'
           : 'SELECT NULL::uuid AS id, NULL::uuid AS "eventId", i.gateway_id AS "gatewayId" FROM inserted i GROUP BY i.gateway_id'
       }`,
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
       SELECT ${DELIVERY_ID}, e.id, e.seq, e.type, e.credential_id, 'notification', NULL, 'pending', 0, 0, $2, $2, $2
         FROM outbox_events e WHERE e.id = ANY ($1::uuid[])
       RETURNING id, event_id AS "eventId"`,
      [eventIds, at],
    );
    return rows.map((row) => ({ ...row, gatewayId: null }));
  }
}
