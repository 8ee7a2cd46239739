import { Injectable } from '@nestjs/common';
import type { Job, JobsOptions, Queue } from 'bullmq';

import { Clock } from '../common/clock/clock';
import { GroupCommit } from '../common/db/group-commit';
import type { DueJob } from '../common/jobs/due-work';
import { JobQueues } from '../common/jobs/job-queues';
import { DeliveryJobName, DeliveryRef, DrainJob, drainJobId, drainTargetOf, GatewayQueue } from './delivery-jobs';

const WEEK_SECONDS = 7 * 24 * 3600;

/**
 * BullMQ attempts are effectively unlimited: Postgres decides when a delivery
 * has failed for good (the retry schedule); the queue only runs the drain. A
 * drain that throws (Postgres down, a bug) backs off and runs again.
 * Completed drains are removed so the same id can be added for the next wake.
 */
const JOB_OPTIONS: JobsOptions = {
  attempts: 1_000_000,
  backoff: { type: 'delivery' },
  removeOnComplete: true,
  removeOnFail: { age: WEEK_SECONDS },
};

/** Wakes one flush carries at most. */
const WAKE_BATCH = 500;

/**
 * The drains' side of Redis: one job per target (`drain-<gatewayId>`), and a
 * `dirty` flag per target that says "something was written for it since its
 * drain last looked". No wake-up is lost between a drain that is finishing and
 * a publisher that finds its job still there (docs/delivery.md, "Waking a drain without losing a wake"):
 *
 * - a publisher, after its commit, sets the flag, then adds the job if there is
 *   none, or promotes it if it sleeps on a retry's delay;
 * - a drain that finds nothing due takes the flag (GETDEL) and looks again if it was set;
 * - a drain that goes to sleep checks the flag after moving to `delayed`, and
 *   wakes itself if it is set;
 * - once a drain's job is removed (completed), its worker adds it again if the flag is set.
 *
 * Wakes from concurrent commits in one process share one pipeline.
 */
@Injectable()
export class DeliveryQueue {
  private readonly wakes = new GroupCommit<string, void>((targets) => this.wakeMany(targets), WAKE_BATCH);
  /** Drains running in this process, each with its in-process wake flag or the listener of a drain waiting for work. */
  private readonly attached = new Map<string, { woken: boolean; listener: (() => void) | null }>();

  constructor(
    private readonly jobs: JobQueues,
    private readonly clock: Clock,
  ) {}

  private get queue(): Queue<DrainJob> {
    return this.jobs.queue<DrainJob>(GatewayQueue.Delivery);
  }

  /** Deliveries were written (or made due) for these targets: their drains run. */
  async wakeFor(refs: Array<Pick<DeliveryRef, 'target' | 'gatewayId'>>): Promise<void> {
    await this.wake([...new Set(refs.map(drainTargetOf))]);
  }

  async wake(targets: string[]): Promise<void> {
    // A drain running in this process (delivery.processor.ts) is told directly: its job is active, so Redis has
    // nothing to add or promote, and it reads again after the commit that woke it. The others go through Redis.
    const elsewhere = targets.filter((target) => {
      const drain = this.attached.get(target);
      if (!drain) return true;
      const listener = drain.listener;
      drain.listener = null;
      if (listener) listener();
      else drain.woken = true;
      return false;
    });
    await Promise.all(elsewhere.map((target) => this.wakes.submit(target)));
  }

  /** A drain of `target` runs in this process: wakes of it from this process go to it, not to Redis, until `detach`. */
  attach(target: string): void {
    this.attached.set(target, { woken: false, listener: null });
  }

  detach(target: string): void {
    this.attached.delete(target);
  }

  /** Takes the in-process wake flag of an attached drain: true if this process woke it since the last take. */
  takeLocal(target: string): boolean {
    const drain = this.attached.get(target);
    if (!drain?.woken) return false;
    drain.woken = false;
    return true;
  }

  /** The attached drain waits for work: the next wake from this process calls `listener`. */
  listen(target: string, listener: () => void): void {
    const drain = this.attached.get(target);
    if (drain) drain.listener = listener;
  }

  /** The drain stopped waiting. */
  unlisten(target: string, listener: () => void): void {
    const drain = this.attached.get(target);
    if (drain?.listener === listener) drain.listener = null;
  }

  /** Wakes every waiting drain (the worker is stopping: they finish their job). */
  releaseListeners(): void {
    for (const drain of this.attached.values()) {
      const listener = drain.listener;
      drain.listener = null;
      listener?.();
    }
  }

  private async wakeMany(submitted: string[]): Promise<void[]> {
    const targets = [...new Set(submitted)];
    const queue = this.queue;
    const pipeline = this.jobs.redis().pipeline();
    for (const target of targets) {
      const id = drainJobId(target);
      pipeline.set(this.dirtyKey(target), '1').exists(queue.toKey(id)).zscore(queue.keys.delayed, id);
    }
    const replies = (await pipeline.exec()) ?? [];
    const missing: string[] = [];
    const sleeping: string[] = [];
    targets.forEach((target, i) => {
      const [[setError], [existsError, exists], [delayedError, delayed]] = replies.slice(i * 3, i * 3 + 3);
      const error = setError ?? existsError ?? delayedError;
      if (error) throw error;
      if (exists === 0) missing.push(target);
      else if (delayed !== null) sleeping.push(target);
    });
    if (missing.length) {
      await this.jobs.addBulk<DrainJob>(
        GatewayQueue.Delivery,
        missing.map((target) => ({ name: DeliveryJobName.Drain, data: { target }, opts: { ...JOB_OPTIONS, jobId: drainJobId(target) } })),
      );
    }
    for (const target of sleeping) await this.promote(target);
    return submitted.map(() => undefined);
  }

  /** Takes the target's flag: true if something was written for it since the last take. */
  async takeDirty(target: string): Promise<boolean> {
    return (await this.jobs.redis().getdel(this.dirtyKey(target))) !== null;
  }

  /** After a drain's job was removed: if something was written meanwhile, it is added again. */
  async afterDrain(target: string): Promise<void> {
    if ((await this.jobs.redis().exists(this.dirtyKey(target))) === 1) await this.wake([target]);
  }

  /**
   * Puts a running drain to sleep until `dueBy` (by the service's clock; `now`
   * is the drain's present on that clock), then checks the flag: a wake that
   * found the job still active is not lost. The caller throws BullMQ's DelayedError.
   */
  async sleepUntil(job: Job<DrainJob>, token: string, dueBy: Date, now: Date): Promise<void> {
    const delay = Math.max(0, dueBy.getTime() - now.getTime());
    // BullMQ's delays run on this machine's real time, which the service's clock need not follow (tests move it by hand).
    const wakeAt = queueTime() + delay;
    await job.updateData({ target: job.data.target, dueBy: dueBy.toISOString(), wakeAt });
    await job.moveToDelayed(wakeAt, token);
    if ((await this.jobs.redis().exists(this.dirtyKey(job.data.target))) === 1) await this.promote(job.data.target);
  }

  /**
   * The drain's present by the service's clock: the clock's now, or, when the
   * drain slept until a retry was due, that retry's time less the real time
   * still left of the sleep (the two agree when the clock is the system's).
   */
  scheduleNow(job: Pick<Job<DrainJob>, 'data'>): Date {
    const now = this.clock.now();
    const { dueBy, wakeAt } = job.data;
    if (!dueBy || wakeAt === undefined) return now;
    const slept = new Date(new Date(dueBy).getTime() - Math.max(0, wakeAt - queueTime()));
    return slept > now ? slept : now;
  }

  /** A target's drain as the job sweep would add it: delayed until `dueAt` when that is later than now. */
  jobOf(target: string, dueAt: Date | undefined, now = this.clock.now().getTime()): DueJob<DrainJob> {
    const delay = dueAt ? Math.max(0, new Date(dueAt).getTime() - now) : 0;
    const data: DrainJob = delay > 0 ? { target, dueBy: new Date(dueAt!).toISOString(), wakeAt: queueTime() + delay } : { target };
    return { queue: GatewayQueue.Delivery, name: DeliveryJobName.Drain, data, opts: { ...JOB_OPTIONS, jobId: drainJobId(target), delay } };
  }

  private async promote(target: string): Promise<void> {
    // It may have started (or been removed) since it was seen delayed: then there is nothing to promote.
    await (await this.queue.getJob(drainJobId(target)))?.promote().catch(() => undefined);
  }

  private dirtyKey(target: string): string {
    return this.queue.toKey(`dirty:${target}`);
  }
}

/**
 * This machine's real time in epoch ms, which BullMQ's delays run on (the
 * service's Clock need not follow it: tests move it by hand).
 */
export function queueTime(): number {
  return performance.timeOrigin + performance.now();
}
