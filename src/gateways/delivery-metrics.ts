import { Injectable } from '@nestjs/common';
import type { Counter, Histogram } from 'prom-client';

import { Clock } from '../common/clock/clock';
import { MetricsService, sharedPerScrape } from '../common/metrics/metrics.service';
import { DeliveriesRepository } from './deliveries.repository';

type AttemptResult = '2xx' | '3xx' | '4xx' | '5xx' | 'timeout' | 'error' | 'refused';
type Outcome = 'delivered' | 'retrying' | 'failed';

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

  attempt(eventType: string, gateway: string, result: AttemptResult): void {
    this.attempts.inc({ event_type: eventType, gateway, result });
  }

  outcome(eventType: string, gateway: string, outcome: Outcome): void {
    this.outcomes.inc({ event_type: eventType, gateway, outcome });
  }

  acknowledged(eventType: string, gateway: string, seconds: number): void {
    this.ackLatency.observe({ event_type: eventType, gateway }, Math.max(0, seconds));
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
