import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';

import { Clock } from '../common/clock/clock';
import { MetricsService } from '../common/metrics/metrics.service';
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
  private snapshot: Promise<{ backlog: number; oldestAgeSeconds: number }> | null = null;

  constructor(
    metrics: MetricsService,
    private readonly deliveries: DeliveriesRepository,
    private readonly clock: Clock,
  ) {
    const registers = [metrics.registry];
    this.attempts = new Counter({
      name: 'webhook_delivery_attempts_total',
      help: 'Webhook delivery attempts by event type, gateway and result (status class, timeout, connection error, or refused destination)',
      labelNames: ['event_type', 'gateway', 'result'],
      registers,
    });
    this.outcomes = new Counter({
      name: 'webhook_delivery_outcomes_total',
      help: 'What each delivery attempt led to: delivered, retrying or failed for good',
      labelNames: ['event_type', 'gateway', 'outcome'],
      registers,
    });
    this.ackLatency = new Histogram({
      name: 'webhook_ack_latency_seconds',
      help: 'From the event being written to the gateway acknowledging it',
      labelNames: ['event_type', 'gateway'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400],
      registers,
    });
    const read = () => this.readSnapshot();
    new Gauge({
      name: 'outbox_backlog_deliveries',
      help: 'Deliveries not yet acknowledged or failed',
      registers,
      async collect() {
        this.set((await read()).backlog);
      },
    });
    new Gauge({
      name: 'outbox_oldest_undelivered_age_seconds',
      help: 'Age of the oldest delivery not yet acknowledged or failed (0 when none)',
      registers,
      async collect() {
        this.set((await read()).oldestAgeSeconds);
      },
    });
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

  /** One query per scrape, shared by both gauges. */
  private readSnapshot(): Promise<{ backlog: number; oldestAgeSeconds: number }> {
    this.snapshot ??= this.deliveries
      .backlog()
      .then(({ backlog, oldest }) => ({
        backlog,
        oldestAgeSeconds: oldest ? Math.max(0, (this.clock.now().getTime() - new Date(oldest).getTime()) / 1000) : 0,
      }))
      .finally(() => setTimeout(() => (this.snapshot = null), 500).unref());
    return this.snapshot;
  }
}

export function resultOf(status: number | null, kind: 'response' | 'timeout' | 'error'): AttemptResult {
  if (kind !== 'response' || status === null) return kind === 'timeout' ? 'timeout' : 'error';
  return `${Math.min(5, Math.max(2, Math.floor(status / 100)))}xx` as AttemptResult;
}
