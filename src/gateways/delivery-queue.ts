import { Injectable } from '@nestjs/common';
import type { JobsOptions } from 'bullmq';

import { Clock } from '../common/clock/clock';
import type { DueJob } from '../common/jobs/due-work';
import { JobQueues } from '../common/jobs/job-queues';
import { JobSweeper } from '../common/jobs/job-sweeper';
import { DeliveriesRepository } from './deliveries.repository';
import { DeliveryJob, deliveryJobId, DeliveryJobName, DeliveryRef, GatewayQueue } from './delivery-jobs';

const WEEK_SECONDS = 7 * 24 * 3600;

/**
 * BullMQ attempts are effectively unlimited: Postgres decides when a delivery
 * has failed for good (the retry schedule); the queue only waits. Completed
 * jobs are removed so the same id can be enqueued again for a later round.
 */
const JOB_OPTIONS: JobsOptions = {
  attempts: 1_000_000,
  backoff: { type: 'delivery' },
  removeOnComplete: true,
  removeOnFail: { age: WEEK_SECONDS },
};

/** Puts deliveries on the queue, one job per delivery with a deterministic id. */
@Injectable()
export class DeliveryQueue {
  constructor(
    private readonly jobs: JobQueues,
    private readonly sweeper: JobSweeper,
    private readonly repository: DeliveriesRepository,
    private readonly clock: Clock,
  ) {}

  /** Enqueues deliveries just written; those behind an earlier pending delivery wait for it to hand over. */
  async enqueueNew(refs: Array<DeliveryRef & { blocked: boolean }>): Promise<void> {
    const heads: DeliveryRef[] = refs.filter((r) => !r.blocked);
    const behind = refs.filter((r) => r.blocked).map((r) => r.id);
    // Seen as blocked inside the transaction: the earlier delivery may have finished since.
    if (behind.length) heads.push(...(await this.repository.headsAmong(behind)));
    await this.add(heads);
  }

  /** Adds jobs; an id already queued is left alone (BullMQ ignores the duplicate). */
  async add(refs: DeliveryRef[]): Promise<void> {
    if (refs.length === 0) return;
    const now = this.clock.now().getTime();
    await this.jobs.addBulk<DeliveryJob>(
      GatewayQueue.Delivery,
      refs.map((ref) => {
        const { name, data, opts } = this.jobOf(ref, now);
        return { name, data, opts };
      }),
    );
  }

  /** A delivery's job: `deliver:<eventId>:<gatewayId>`, delayed until its next attempt is due. */
  jobOf(ref: DeliveryRef, now = this.clock.now().getTime()): DueJob<DeliveryJob> {
    return {
      queue: GatewayQueue.Delivery,
      name: DeliveryJobName.Deliver,
      data: { deliveryId: ref.id },
      opts: { ...JOB_OPTIONS, jobId: deliveryJobId(ref), delay: delayUntil(ref.nextAttemptAt, now) },
    };
  }

  /**
   * Makes sure each delivery has a live job: missing, or left finished (a
   * delivery retried by hand), it is added again. Returns how many were added.
   */
  async ensure(refs: DeliveryRef[]): Promise<number> {
    return (await this.sweeper.ensure(refs.map((ref) => this.jobOf(ref)))).added;
  }

  /** Runs deliveries waiting on a backoff now (their job promoted, or added again if it is gone). */
  async promote(refs: DeliveryRef[]): Promise<void> {
    await this.sweeper.ensure(refs.map((ref) => ({ ...this.jobOf({ ...ref, nextAttemptAt: undefined }), runNow: true })));
  }
}

function delayUntil(at: Date | undefined, now: number): number {
  return at ? Math.max(0, new Date(at).getTime() - now) : 0;
}
