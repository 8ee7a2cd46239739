import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { Job } from 'bullmq';

import { Clock } from '../common/clock/clock';
import { JobQueues } from '../common/jobs/job-queues';
import { RandomSource, randomUnit } from '../common/random/random-source';
import { AppConfig } from '../config/app-config';
import { DeliveriesRepository, DeliveryForAttempt } from './deliveries.repository';
import { DeliveryJob, DeliveryRef, GatewayQueue, RetryLaterError } from './delivery-jobs';
import { DeliveryMetrics, resultOf } from './delivery-metrics';
import { DeliveryQueue } from './delivery-queue';
import { GatewaysService } from './gateways.service';
import { classifyStatus, nextRetry, parseRetryAfter } from './retry-policy';
import { WebhookResult, WebhookSender } from './webhook-sender';
import { signingKeyOf, webhookHeaders } from './webhook-signature';

/**
 * The delivery worker: one signed POST per job. Postgres holds the truth
 * (status, attempts, next attempt); BullMQ only waits. A delivery whose chain
 * has an earlier pending delivery is left alone: that one hands over when it
 * finishes, so a gateway sees one credential's events in order.
 */
@Injectable()
export class DeliveryProcessor implements OnModuleInit {
  private readonly logger = new Logger(DeliveryProcessor.name);

  constructor(
    private readonly jobs: JobQueues,
    private readonly repository: DeliveriesRepository,
    private readonly queue: DeliveryQueue,
    private readonly gateways: GatewaysService,
    private readonly sender: WebhookSender,
    private readonly metrics: DeliveryMetrics,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.jobs.startWorker<DeliveryJob>(GatewayQueue.Delivery, (job) => this.process(job), {
      concurrency: this.config.delivery.concurrency,
      lockMs: this.config.delivery.lockMs,
      settings: {
        // RetryLaterError carries the schedule's delay; anything else (Postgres
        // down, a bug) backs off exponentially up to a minute.
        backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
          error instanceof RetryLaterError ? error.delayMs : Math.min(1000 * 2 ** Math.min(attemptsMade, 6), 60_000),
      },
    });
  }

  async process(job: Job<DeliveryJob>): Promise<void> {
    const delivery = await this.repository.loadForAttempt(job.data.deliveryId);
    if (!delivery || delivery.blocked) return;
    if (delivery.status !== 'pending') {
      // Already finished: a job run again after a worker died between recording
      // the outcome and handing over. Hand over now rather than at the next sweep.
      await this.handOver(await this.repository.nextInChain(delivery.id));
      return;
    }
    if (delivery.target === 'notification') {
      await this.deliverNotification(job, delivery);
      return;
    }
    if (delivery.target !== 'gateway' || !delivery.gateway || !delivery.gatewayId) {
      await this.finishFailed(delivery, `no sender for target ${delivery.target}`);
      return;
    }
    const gateway = delivery.gateway;
    if (gateway.status !== 'active') {
      await this.finishFailed(delivery, 'gateway disabled');
      return;
    }
    const urlProblem = this.gateways.urlProblem(gateway.url);
    if (urlProblem) {
      await this.finishFailed(delivery, `gateway URL ${urlProblem}`);
      return;
    }

    const at = this.clock.now();
    const keys = this.gateways.signingKeys(delivery.gatewayId, gateway, at);
    const result = await this.sender.send({
      url: gateway.url,
      headers: webhookHeaders(delivery.eventId, at, delivery.payload, keys),
      body: delivery.payload,
      timeoutMs: this.config.delivery.timeoutMs,
    });
    await this.record(job, delivery, gateway.name, at, result);
  }

  /** The review notification webhook: NOTIFY_WEBHOOK_URL, signed with NOTIFY_WEBHOOK_SECRET as gateway events are. */
  private async deliverNotification(job: Job<DeliveryJob>, delivery: DeliveryForAttempt): Promise<void> {
    const notify = this.config.notify;
    if (!notify) {
      await this.finishFailed(delivery, 'no notification webhook is configured (NOTIFY_WEBHOOK_URL)');
      return;
    }
    const at = this.clock.now();
    const result = await this.sender.send({
      url: notify.webhookUrl,
      headers: webhookHeaders(delivery.eventId, at, delivery.payload, [signingKeyOf(notify.signingSecret)]),
      body: delivery.payload,
      timeoutMs: this.config.delivery.timeoutMs,
    });
    await this.record(job, delivery, 'notification', at, result);
  }

  private async record(
    job: Job<DeliveryJob>,
    delivery: DeliveryForAttempt,
    gatewayName: string,
    at: Date,
    result: WebhookResult,
  ): Promise<void> {
    if (result.kind === 'refused') {
      // Nothing was sent. Retrying would only knock again where webhooks must not go: fail it now, saying why
      // (POST /v1/deliveries/:id/retry sends it again once the gateway's URL or DNS is fixed).
      this.metrics.attempt(delivery.eventType, gatewayName, 'refused');
      this.logger.warn(
        { gatewayId: delivery.gatewayId, deliveryId: delivery.id, err: result.reason },
        'delivery refused: forbidden destination',
      );
      await this.finishFailed(delivery, `destination refused: ${result.reason}`);
      return;
    }
    const statusCode = result.kind === 'response' ? result.status : null;
    this.metrics.attempt(delivery.eventType, gatewayName, resultOf(statusCode, result.kind));
    const outcome = result.kind === 'response' ? classifyStatus(result.status) : 'retry';

    if (outcome === 'acknowledged') {
      const now = this.clock.now();
      const next = await this.repository.markDelivered(delivery.id, { at: now, statusCode, error: null });
      this.metrics.outcome(delivery.eventType, gatewayName, 'delivered');
      this.metrics.acknowledged(delivery.eventType, gatewayName, (now.getTime() - new Date(delivery.eventCreatedAt).getTime()) / 1000);
      await this.handOver(next);
      // It answers again after failing: what waits on a backoff for it can go now.
      if (delivery.retryStep > 0 && delivery.gatewayId)
        await this.queue.promote(await this.repository.wakeWaiting(delivery.gatewayId, now));
      return;
    }

    const error = describe(result);
    if (outcome === 'gone') {
      await this.repository.markFailed(delivery.id, at, { at, statusCode, error }, 'gateway answered 410 Gone');
      this.metrics.outcome(delivery.eventType, gatewayName, 'failed');
      if (!delivery.gatewayId) return; // the notification webhook: this delivery fails, nothing to disable
      await this.gateways.disableGone(delivery.gatewayId, `answered 410 Gone to delivery ${delivery.id}`, `job:${job.id}`);
      this.logger.warn({ gatewayId: delivery.gatewayId, deliveryId: delivery.id }, 'gateway answered 410 Gone; disabled it');
      return;
    }

    const retryAfter = result.kind === 'response' ? parseRetryAfter(result.retryAfter, at) : null;
    const decision = nextRetry({
      failures: delivery.retryStep + 1,
      delays: this.config.delivery.retryDelaysMs,
      jitter: randomUnit(this.random),
      retryAfterMs: retryAfter,
    });
    if (!decision.retry) {
      const next = await this.repository.markFailed(
        delivery.id,
        at,
        { at, statusCode, error },
        `gave up after the retry schedule: ${error}`,
      );
      this.metrics.outcome(delivery.eventType, gatewayName, 'failed');
      this.logger.warn({ gatewayId: delivery.gatewayId, deliveryId: delivery.id, err: error }, 'delivery failed for good');
      await this.handOver(next);
      return;
    }
    if (
      await this.repository.recordRetry(
        delivery.id,
        delivery.retryStep,
        { at, statusCode, error },
        new Date(at.getTime() + decision.delayMs),
      )
    ) {
      this.metrics.outcome(delivery.eventType, gatewayName, 'retrying');
    }
    throw new RetryLaterError(decision.delayMs, `delivery ${delivery.id}: ${error}`);
  }

  private async finishFailed(delivery: DeliveryForAttempt, error: string): Promise<void> {
    const next = await this.repository.markFailed(delivery.id, this.clock.now(), null, error);
    this.metrics.outcome(delivery.eventType, delivery.gateway?.name ?? delivery.target, 'failed');
    await this.handOver(next);
  }

  /** The chain's next delivery may go now. */
  private async handOver(next: DeliveryRef | null): Promise<void> {
    if (next) await this.queue.add([next]);
  }
}

function describe(result: Exclude<WebhookResult, { kind: 'refused' }>): string {
  switch (result.kind) {
    case 'response':
      return `HTTP ${result.status}`;
    case 'timeout':
      return 'no answer within the timeout';
    case 'error':
      return result.message;
  }
}
