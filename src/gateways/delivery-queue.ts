import { Injectable } from '@nestjs/common';
import type { JobsOptions, Queue } from 'bullmq';
import { Clock } from '../common/clock/clock';
import { chunks } from '../common/collections/chunks';
import { JobQueues } from '../common/jobs/job-queues';
import { DeliveriesRepository } from './deliveries.repository';
import { DeliveryJob, DeliveryJobName, deliveryJobId, DeliveryRef, GatewayQueue } from './delivery-jobs';

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
    private readonly repository: DeliveriesRepository,
    private readonly clock: Clock,
  ) {}

  private get queue(): Queue<DeliveryJob> {
    return this.jobs.queue<DeliveryJob>(GatewayQueue.Delivery);
  }

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
      refs.map((ref) => ({
        name: DeliveryJobName.Deliver,
        data: { deliveryId: ref.id },
        opts: { ...JOB_OPTIONS, jobId: deliveryJobId(ref), delay: delayUntil(ref.nextAttemptAt, now) },
      })),
    );
  }

  /**
   * Makes sure each pending delivery has a live job: missing (a Redis flush)
   * or left finished by a crash, it is added again. Returns how many were added.
   */
  async ensure(refs: DeliveryRef[]): Promise<number> {
    const missing: DeliveryRef[] = [];
    for (const chunk of chunks(refs, 100)) {
      const states = await Promise.all(chunk.map((ref) => this.queue.getJobState(deliveryJobId(ref))));
      for (let i = 0; i < chunk.length; i++) {
        const state = states[i];
        if (state === 'completed' || state === 'failed') await this.queue.remove(deliveryJobId(chunk[i]));
        if (state === 'unknown' || state === 'completed' || state === 'failed') missing.push(chunk[i]);
      }
    }
    await this.add(missing);
    return missing.length;
  }

  /** Runs deliveries waiting on a backoff now. */
  async promote(refs: DeliveryRef[]): Promise<void> {
    for (const ref of refs) {
      const job = await this.queue.getJob(deliveryJobId(ref));
      if (!job) {
        await this.add([{ ...ref, nextAttemptAt: undefined }]);
      } else if (await job.isDelayed()) {
        await job.promote().catch(() => undefined); // it may have just started
      }
    }
  }
}

function delayUntil(at: Date | undefined, now: number): number {
  return at ? Math.max(0, new Date(at).getTime() - now) : 0;
}
