import { createHash } from 'node:crypto';

import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DelayedError, Job, Worker } from 'bullmq';

import { Clock } from '../common/clock/clock';
import { JobQueues } from '../common/jobs/job-queues';
import { RandomSource, randomUnit } from '../common/random/random-source';
import { AppConfig } from '../config/app-config';
import { DeliveriesRepository, DeliveryOutcome, DeliveryToSend, DrainGateway } from './deliveries.repository';
import { DrainJob, drainJobId, GatewayQueue, NOTIFICATION_TARGET } from './delivery-jobs';
import { DeliveryMetrics, resultOf, RoundTally } from './delivery-metrics';
import { DeliveryQueue, queueTime } from './delivery-queue';
import { GatewaysService } from './gateways.service';
import { classifyStatus, nextRetry, parseRetryAfter } from './retry-policy';
import { WebhookResult, WebhookSender } from './webhook-sender';
import { signingKeyOf, webhookHeaders } from './webhook-signature';

/** Deliveries one batch of a gateway that takes one event per request carries: sent over IN_FLIGHT requests at a time. */
const BATCH = 256;
/**
 * How long a drain that ran dry stays on its job waiting for a wake from this
 * process (a commit here) before it finishes: a steady stream of events keeps
 * one running drain per gateway instead of a BullMQ job added, fetched and
 * completed per event. A wake from another process reaches it through the
 * dirty flag, read when the wait ends.
 */
const LINGER_MS = 50;
/** Events one batched request carries at most (gateways with batchEvents). */
export const MAX_EVENTS_PER_REQUEST = 500;
/** Requests in flight at once to one gateway. Each carries a different chain's head, so their order does not matter. */
const IN_FLIGHT = 16;

/** What one drain round did. */
export interface DrainRound {
  /** Deliveries read and given an outcome. */
  deliveries: number;
  /** With no delivery due: when the earliest waiting head is due, null when nothing is pending. */
  nextDueAt?: Date | null;
  delivered: number;
  retrying: number;
  failed: number;
  /** The gateway answered 410 Gone and is disabled: the drain stops. */
  gone: boolean;
}

/** A request to send: the deliveries it carries (one, or a batch) and its exact body. */
interface Request {
  deliveries: DeliveryToSend[];
  webhookId: string;
  body: string;
}

/**
 * The delivery worker: one drain per target (a gateway, or the notification
 * webhook), run as that target's one BullMQ job (`drain-<gatewayId>`). A
 * drain reads a batch of its target's due chain heads in event order, sends
 * them (several requests in flight: each is a different credential's chain,
 * so order within each chain holds), records every outcome of the batch in
 * one UPDATE, and reads again, until nothing is due. Then it finishes, or
 * sleeps on its queue until its next retry is due. Postgres holds the truth
 * (status, attempts, next attempt); BullMQ holds the one lock per target and
 * the sleep. The life of an event on this path: docs/delivery.md.
 */
@Injectable()
export class DeliveryProcessor implements OnModuleInit {
  private readonly logger = new Logger(DeliveryProcessor.name);
  /** One drain per target in this process: a second job of the same target (after a Redis flush) waits for the first. */
  private readonly running = new Map<string, Promise<void>>();
  /** Targets whose last batch said they take batched bodies. */
  private readonly batched = new Set<string>();
  private worker: Worker<DrainJob> | null = null;

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
    this.worker = this.jobs.startWorker<DrainJob>(GatewayQueue.Delivery, (job, token) => this.process(job, token), {
      concurrency: this.config.delivery.concurrency,
      lockMs: this.config.delivery.lockMs,
      settings: {
        // A drain that threw (Postgres down, a bug) runs again after a backoff of up to a minute.
        backoffStrategy: (attemptsMade: number) => Math.min(1000 * 2 ** Math.min(attemptsMade, 6), 60_000),
      },
    });
    // A lingering drain lets its job go at once when the worker stops.
    this.worker?.on('closing', () => this.queue.releaseListeners());
    // The job is gone from Redis now: a wake that found it still there is acted on here.
    this.worker?.on('completed', (job: Job<DrainJob>) => {
      this.queue
        .afterDrain(job.data.target)
        .catch((error: Error) => this.logger.warn({ target: job.data.target, err: error.message }, 'drain wake failed; the sweep will'));
    });
  }

  /** Runs one target's drain. Without a token (not a queue's job), it returns where a queued drain would sleep. */
  async process(job: Job<DrainJob>, token?: string): Promise<void> {
    const target = job.data.target;
    const run = (this.running.get(target) ?? Promise.resolve()).then(() => this.drain(job, token));
    const settled = run.catch(() => undefined);
    this.running.set(target, settled);
    try {
      await run;
    } finally {
      if (this.running.get(target) === settled) this.running.delete(target);
    }
  }

  private async drain(job: Job<DrainJob>, token: string | undefined): Promise<void> {
    const target = job.data.target;
    // While attached, this process's wakes of the target reach this drain in memory (DeliveryQueue.wake).
    if (token) this.queue.attach(target);
    try {
      for (;;) {
        // The read below sees every commit whose wake came before it.
        this.queue.takeLocal(target);
        const round = await this.drainOnce(target, () => this.queue.scheduleNow(job));
        if (round.gone) return;
        if (round.deliveries > 0) {
          if (this.worker?.closing && token) {
            // Stopping: the rest goes to another worker (or this one after its restart) at once.
            await job.moveToDelayed(queueTime(), token);
            throw new DelayedError();
          }
          continue;
        }
        if (this.queue.takeLocal(target) || (await this.queue.takeDirty(target))) continue;
        const now = this.queue.scheduleNow(job);
        const next = round.nextDueAt ?? null;
        if (!next) {
          if (token && (await this.linger(target))) continue;
          // Checked and detached (finally) in one turn: a later wake goes through Redis.
          if (this.queue.takeLocal(target)) continue;
          return;
        }
        if (next <= now) continue;
        if (!token) return;
        if (this.queue.takeLocal(target)) continue;
        this.queue.detach(target);
        await this.queue.sleepUntil(job, token, next, now);
        throw new DelayedError();
      }
    } finally {
      if (token) this.queue.detach(target);
    }
  }

  /**
   * A drain with nothing pending waits up to LINGER_MS for a wake from this
   * process (DeliveryQueue.listen), then takes its dirty flag (a wake from
   * another process): true when it has work again. Only where this process
   * publishes (api or scheduler role), not while the worker stops, and not
   * when drains fill half the worker's slots (other gateways' drains must not wait behind lingering ones).
   */
  private async linger(target: string): Promise<boolean> {
    const publishesHere = this.config.roles.some((role) => role === 'api' || role === 'scheduler');
    if (!publishesHere || this.worker?.closing || this.running.size * 2 > this.config.delivery.concurrency) return false;
    const woken = await new Promise<boolean>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.queue.unlisten(target, wake);
        resolve(false);
      }, LINGER_MS);
      this.queue.listen(target, wake);
    });
    return woken || (await this.queue.takeDirty(target));
  }

  /**
   * One round of a target's drain: reads a batch of its due chain heads, sends
   * them, records their outcomes in one statement. `now` is the drain's present.
   */
  async drainOnce(target: string, now: () => Date = () => this.clock.now()): Promise<DrainRound> {
    const gatewayId = target === NOTIFICATION_TARGET ? null : target;
    const at = now();
    const batch = await this.repository.dueBatch(gatewayId, at, this.batched.has(target) ? MAX_EVENTS_PER_REQUEST : BATCH);
    const round: DrainRound = { deliveries: batch.deliveries.length, delivered: 0, retrying: 0, failed: 0, gone: false };
    if (batch.deliveries.length === 0) return { ...round, nextDueAt: batch.nextDueAt ?? null };

    let outcomes: SentOutcome[];
    let gone: DeliveryToSend | null = null;
    const label = batch.gateway?.name ?? target;
    // Counted per round and added to the metrics once per label set.
    const tally = new RoundTally();
    if (gatewayId === null) {
      const notify = this.config.notify;
      outcomes = notify
        ? await this.send(label, this.singles(batch.deliveries), notify.webhookUrl, [signingKeyOf(notify.signingSecret)], now, tally)
        : this.failAll(batch.deliveries, at, 'no notification webhook is configured (NOTIFY_WEBHOOK_URL)');
    } else {
      const problem = this.gatewayProblem(batch.gateway);
      if (problem) {
        outcomes = this.failAll(batch.deliveries, at, problem);
      } else {
        const gateway = batch.gateway!;
        if (gateway.batchEvents) this.batched.add(target);
        else this.batched.delete(target);
        const requests = gateway.batchEvents ? [batchRequest(batch.deliveries)] : this.singles(batch.deliveries);
        outcomes = await this.send(label, requests, gateway.url, this.gateways.signingKeys(gatewayId, gateway, at), now, tally);
        gone = outcomes.find((o) => o.statusCode === 410)?.delivery ?? null;
      }
    }

    this.metrics.recordAttempts(label, tally);
    const changed = await this.repository.recordOutcomes(outcomes);
    let recovered = false;
    for (const o of outcomes) {
      const delivery = o.delivery;
      const outcome = o.outcome === 'retry' ? 'retrying' : o.outcome;
      round[outcome]++;
      if (!changed.has(o.id)) continue; // another run of this drain recorded it first
      tally.outcome(delivery.eventType, outcome);
      if (o.outcome === 'delivered') {
        this.metrics.acknowledged(delivery.eventType, label, (o.at.getTime() - delivery.eventCreatedMs) / 1000);
        if (delivery.retryStep > 0) recovered = true;
      }
    }
    this.metrics.recordOutcomes(label, tally);
    if (gone && gatewayId) {
      await this.gateways.disableGone(gatewayId, `answered 410 Gone to delivery ${gone.id}`, `job:${drainJobId(target)}`);
      this.logger.warn({ gatewayId, deliveryId: gone.id }, 'gateway answered 410 Gone; disabled it');
      round.gone = true;
    } else if (recovered && gatewayId) {
      // It answers again after failing: what waits on a backoff for it goes in the next batch.
      await this.repository.wakeWaiting(gatewayId, now());
    }
    return round;
  }

  private gatewayProblem(gateway: DrainGateway | null): string | null {
    if (!gateway) return 'no sender for target gateway';
    if (gateway.status !== 'active') return 'gateway disabled';
    const urlProblem = this.gateways.urlProblem(gateway.url);
    return urlProblem ? `gateway URL ${urlProblem}` : null;
  }

  /** One request per delivery, under its event's id. */
  private singles(deliveries: DeliveryToSend[]): Request[] {
    return deliveries.map((d) => ({ deliveries: [d], webhookId: d.eventId, body: d.payload }));
  }

  private failAll(deliveries: DeliveryToSend[], at: Date, error: string): SentOutcome[] {
    return deliveries.map((d) => outcomeOf(d, 'failed', false, at, null, error, null));
  }

  /** Sends the requests, IN_FLIGHT at a time, and says what became of each delivery they carry. */
  private async send(
    label: string,
    requests: Request[],
    url: string,
    keys: Buffer[],
    now: () => Date,
    tally: RoundTally,
  ): Promise<SentOutcome[]> {
    const outcomes: SentOutcome[] = [];
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < requests.length) {
        const request = requests[next++];
        const at = now();
        const result = await this.sender.send({
          url,
          headers: webhookHeaders(request.webhookId, at, request.body, keys),
          body: request.body,
          timeoutMs: this.config.delivery.timeoutMs,
        });
        this.outcomesOf(label, request, at, result, now(), tally, outcomes);
      }
    };
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, requests.length) }, lane));
    return outcomes;
  }

  /** What one answer means for each delivery the request carried: added to `outcomes`. */
  private outcomesOf(
    label: string,
    request: Request,
    at: Date,
    result: WebhookResult,
    answeredAt: Date,
    tally: RoundTally,
    outcomes: SentOutcome[],
  ): void {
    if (result.kind === 'refused') {
      // Nothing was sent. Retrying would only knock again where webhooks must not go: fail it now, saying why
      // (POST /v1/deliveries/:id/retry sends it again once the gateway's URL or DNS is fixed).
      this.logger.warn(
        { target: label, deliveries: request.deliveries.map((d) => d.id), err: result.reason },
        'delivery refused: forbidden destination',
      );
      for (const d of request.deliveries) {
        tally.attempt(d.eventType, 'refused');
        outcomes.push(outcomeOf(d, 'failed', false, at, null, `destination refused: ${result.reason}`, null));
      }
      return;
    }
    const statusCode = result.kind === 'response' ? result.status : null;
    const attempt = resultOf(statusCode, result.kind);
    const outcome = result.kind === 'response' ? classifyStatus(result.status) : 'retry';
    if (outcome === 'acknowledged') {
      for (const d of request.deliveries) {
        tally.attempt(d.eventType, attempt);
        outcomes.push(outcomeOf(d, 'delivered', true, answeredAt, statusCode, null, null));
      }
      return;
    }
    const error = describe(result);
    const retryAfter = result.kind === 'response' ? parseRetryAfter(result.retryAfter, at) : null;
    const jitter = randomUnit(this.random);
    for (const d of request.deliveries) {
      tally.attempt(d.eventType, attempt);
      if (outcome === 'gone') {
        outcomes.push(outcomeOf(d, 'failed', true, at, statusCode, 'gateway answered 410 Gone', null));
        continue;
      }
      const decision = nextRetry({
        failures: d.retryStep + 1,
        delays: this.config.delivery.retryDelaysMs,
        jitter,
        retryAfterMs: retryAfter,
      });
      if (!decision.retry) {
        this.logger.warn({ target: label, deliveryId: d.id, err: error }, 'delivery failed for good');
        outcomes.push(outcomeOf(d, 'failed', true, at, statusCode, `gave up after the retry schedule: ${error}`, null));
      } else {
        outcomes.push(outcomeOf(d, 'retry', true, at, statusCode, error, new Date(at.getTime() + decision.delayMs)));
      }
    }
  }
}

/** An outcome with the delivery it is about (recordOutcomes reads only the outcome's own fields). */
interface SentOutcome extends DeliveryOutcome {
  delivery: DeliveryToSend;
}

function outcomeOf(
  d: DeliveryToSend,
  outcome: DeliveryOutcome['outcome'],
  attempted: boolean,
  at: Date,
  statusCode: number | null,
  error: string | null,
  nextAttemptAt: Date | null,
): SentOutcome {
  return { id: d.id, outcome, attempted, at, statusCode, error, nextAttemptAt, fromRetryStep: d.retryStep, delivery: d };
}

/**
 * A batched body (gateways with batchEvents): `{"type":"batch","events":[...]}`,
 * each element the event's own body with its id first, in event order. Its
 * webhook-id is derived from the event ids it carries, so sending the same
 * batch again carries the same id; receivers deduplicate by each event's `id`.
 */
export function batchRequest(deliveries: DeliveryToSend[]): Request {
  const ids = deliveries.map((d) => d.eventId);
  const body = `{"type":"batch","events":[${deliveries.map((d) => `{"id":${JSON.stringify(d.eventId)},${d.payload.slice(1)}`).join(',')}]}`;
  return { deliveries, webhookId: `batch_${createHash('sha256').update(ids.join(',')).digest('base64url').slice(0, 32)}`, body };
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
