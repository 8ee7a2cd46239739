import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';

import { Clock } from '../common/clock/clock';
import { AfterCommit } from '../common/db/after-commit';
import { RandomSource } from '../common/random/random-source';
import { containsSecretShaped, SecretValueRefusedError } from '../common/secrets/secret-shape';
import { AppConfig } from '../config/app-config';
import { CredentialChangeNotifier } from '../enforcement/credential-change-notifier.service';
import { DeliveryQueue } from './delivery-queue';
import type { EventType } from './entities/outbox-event.entity';
import { NewOutboxEvent, OutboxEventsRepository } from './outbox-events.repository';

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
 * per target inside the caller's transaction; once that transaction commits,
 * each target's drain is woken (and the outbox sweep wakes any whose wake went
 * missing). The drain sends them (delivery.processor.ts).
 *
 * Targets: every active gateway serving the event's environment. Another kind
 * of target (the review notification webhook) is one more INSERT
 * (OutboxEventsRepository) with `target = 'notification'` and no gateway id; the worker resolves its URL and
 * key by `target`.
 */
@Injectable()
export class EventOutboxService {
  constructor(
    private readonly repository: OutboxEventsRepository,
    private readonly afterCommit: AfterCommit,
    private readonly queue: DeliveryQueue,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly config: AppConfig,
    private readonly credentialChanges: CredentialChangeNotifier,
  ) {}

  async publish(em: EntityManager, input: OutboxEventInput): Promise<PublishedEvent> {
    return (await this.publishMany(em, [input]))[0];
  }

  /**
   * Several events in one round trip (events about one credential in the
   * order given). Each answer is the event's id, timestamp and deliveries
   * (their ids left empty with `deliveryIds: false`: a thousand events to ten
   * gateways need not bring ten thousand rows back).
   */
  async publishMany(em: EntityManager, inputs: OutboxEventInput[], options: { deliveryIds?: boolean } = {}): Promise<PublishedEvent[]> {
    if (!em.queryRunner?.isTransactionActive) {
      throw new Error('events must be published inside the transaction of their state change');
    }
    const published: PublishedEvent[] = [];
    // A delivery waits for the pending ones of its credential that the statement can see: so one credential's
    // events go in statements of their own, one after the other.
    for (const chunk of distinctCredentialRuns(inputs))
      published.push(...(await this.insertEvents(em, chunk, options.deliveryIds ?? true)));
    // What a gateway is told is what verification enforces: every replica's cache hears of it at commit.
    await this.credentialChanges.notify(
      em,
      inputs.flatMap((input) => (input.credentialId ? [input.credentialId] : [])),
    );
    return published;
  }

  private async insertEvents(em: EntityManager, inputs: OutboxEventInput[], withIds: boolean): Promise<PublishedEvent[]> {
    const now = this.clock.now();
    const timestamp = now.toISOString();
    const events = inputs.map((input): NewOutboxEvent => {
      const payload = JSON.stringify({ type: input.type, timestamp, data: input.data });
      // The last line of defence (free text is redacted at the request boundary): refused as bad input, never a crash.
      if (containsSecretShaped(payload)) {
        throw new SecretValueRefusedError(`a ${input.type} event`, [{ field: 'data', message: `holds a secret-shaped value` }]);
      }
      // Time-ordered (UUIDv7): the events' primary key and deliveries_event_gateway_key take a bulk chunk's
      // thousand events at their right edge instead of at random pages (OutboxEventsRepository, DELIVERY_ID).
      return { id: this.random.orderedUuid(), type: input.type, credentialId: input.credentialId, environment: input.environment, payload };
    });

    // One round trip: the events and their gateway deliveries.
    const rows = await this.repository.insertWithGatewayDeliveries(em, events, now, withIds);
    const notify = this.config.notify ? events.filter((_, i) => inputs[i].notify).map((e) => e.id) : [];
    if (notify.length) rows.push(...(await this.repository.insertNotificationDeliveries(em, notify, now)));

    // After the commit, each target's drain is woken (one per gateway, however many events it got).
    const refs = rows.map((row) => ({
      target: row.gatewayId ? ('gateway' as const) : ('notification' as const),
      gatewayId: row.gatewayId,
    }));
    if (refs.length) this.afterCommit.run(em, () => this.queue.wakeFor(refs));
    // By event in one pass: a thousand events to ten gateways are ten thousand rows.
    const byEvent = new Map<string, string[]>(events.map((e) => [e.id, []]));
    for (const row of rows) if (row.eventId && row.id) byEvent.get(row.eventId)?.push(row.id);
    return events.map((e) => ({ eventId: e.id, timestamp, deliveryIds: byEvent.get(e.id)! }));
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
