import { Injectable } from '@nestjs/common';
import type { Counter, Histogram } from 'prom-client';

import { Clock } from '../common/clock/clock';
import { MetricsService, sharedPerScrape } from '../common/metrics/metrics.service';
import { DeliveriesRepository } from './deliveries.repository';

export type AttemptResult = '2xx' | '3xx' | '4xx' | '5xx' | 'timeout' | 'error' | 'refused';
export type Outcome = 'delivered' | 'retrying' | 'failed';

/**
 * Delivery metrics on the application's registry: attempts and outcomes by
 * event type and gateway, acknowledgement latency (event written → 2xx), and
 * the outbox's backlog and oldest undelivered age, read from Postgres at scrape
 * time so every replica reports the same truth.
 */
@Injectable()
export class DeliveryMetrics {
  private readonly attempts: Counter<'event_type' | 'gateway' | 'result'>;
  private readonly outcomes: Counter<'event_type' | 'gateway' | 'outcome'>;
  private readonly ackLatency: Histogram<'event_type' | 'gateway'>;
  /** ackLatency's children by gateway and event type. */
  private readonly ackChildren = new Map<string, Map<string, { observe(value: number): void }>>();

  constructor(
    metrics: MetricsService,
    private readonly deliveries: DeliveriesRepository,
    private readonly clock: Clock,
  ) {
    this.attempts = metrics.counter(
      'webhook_delivery_attempts_total',
      'Webhook delivery attempts by event type, gateway and result (status class, timeout, connection error, or refused destination)',
      ['event_type', 'gateway', 'result'],
    );
    this.outcomes = metrics.counter(
      'webhook_delivery_outcomes_total',
      'What each delivery attempt led to: delivered, retrying or failed for good',
      ['event_type', 'gateway', 'outcome'],
    );
    this.ackLatency = metrics.histogram(
      'webhook_ack_latency_seconds',
      'From the event being written to the gateway acknowledging it',
      ['event_type', 'gateway'],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400],
    );
    // One query per scrape, shared by both gauges.
    const read = sharedPerScrape(() => this.readSnapshot());
    metrics.gauge('outbox_backlog_deliveries', 'Deliveries not yet acknowledged or failed', async () => (await read()).backlog);
    metrics.gauge(
      'outbox_oldest_undelivered_age_seconds',
      'Age of the oldest delivery not yet acknowledged or failed (0 when none)',
      async () => (await read()).oldestAgeSeconds,
    );
  }

  attempt(eventType: string, gateway: string, result: AttemptResult, count = 1): void {
    this.attempts.inc({ event_type: eventType, gateway, result }, count);
  }

  outcome(eventType: string, gateway: string, outcome: Outcome, count = 1): void {
    this.outcomes.inc({ event_type: eventType, gateway, outcome }, count);
  }

  /** A drain round's attempts, one increment per label set (a round has hundreds of deliveries, mostly of one kind). */
  recordAttempts(gateway: string, tally: RoundTally): void {
    for (const [eventType, results] of tally.attempts) for (const [result, n] of results) this.attempt(eventType, gateway, result, n);
  }

  /** A drain round's recorded outcomes, likewise. */
  recordOutcomes(gateway: string, tally: RoundTally): void {
    for (const [eventType, outcomes] of tally.outcomes) for (const [outcome, n] of outcomes) this.outcome(eventType, gateway, outcome, n);
  }

  acknowledged(eventType: string, gateway: string, seconds: number): void {
    // The labelled child is kept: observing through it skips building the labels and a closure per call.
    let byType = this.ackChildren.get(gateway);
    if (!byType) this.ackChildren.set(gateway, (byType = new Map()));
    let child = byType.get(eventType);
    if (!child) byType.set(eventType, (child = this.ackLatency.labels(eventType, gateway)));
    child.observe(Math.max(0, seconds));
  }

  private async readSnapshot(): Promise<{ backlog: number; oldestAgeSeconds: number }> {
    const { backlog, oldest } = await this.deliveries.backlog();
    return {
      backlog,
      oldestAgeSeconds: oldest ? Math.max(0, (this.clock.now().getTime() - new Date(oldest).getTime()) / 1000) : 0,
    };
  }
}

export function resultOf(status: number | null, kind: 'response' | 'timeout' | 'error'): AttemptResult {
  if (kind !== 'response' || status === null) return kind === 'timeout' ? 'timeout' : 'error';
  return `${Math.min(5, Math.max(2, Math.floor(status / 100)))}xx` as AttemptResult;
}

/** What one drain round did, counted by event type: added to the counters once per round (DeliveryMetrics.recordAttempts, recordOutcomes). */
export class RoundTally {
  readonly attempts = new Map<string, Map<AttemptResult, number>>();
  readonly outcomes = new Map<string, Map<Outcome, number>>();

  attempt(eventType: string, result: AttemptResult): void {
    add(this.attempts, eventType, result);
  }

  outcome(eventType: string, outcome: Outcome): void {
    add(this.outcomes, eventType, outcome);
  }
}

function add<K>(counts: Map<string, Map<K, number>>, eventType: string, key: K): void {
  let byKey = counts.get(eventType);
  if (!byKey) counts.set(eventType, (byKey = new Map()));
  byKey.set(key, (byKey.get(key) ?? 0) + 1);
}
