import { Injectable } from '@nestjs/common';
import type { JobsOptions, Queue } from 'bullmq';

import { Clock } from '../common/clock/clock';
import type { DueJob } from '../common/jobs/due-work';
import { JobQueues } from '../common/jobs/job-queues';
import { JobSweeper } from '../common/jobs/job-sweeper';
import type { SecretStoreName } from '../config/app-config';
import { RetireJob, retireJobId, RotateJob, rotateJobId, RotationJobData, RotationJobName, rotationQueueName } from './rotation-jobs';
import type { RotationRef } from './rotations.repository';

const WEEK_SECONDS = 7 * 24 * 3600;

/**
 * Rotate jobs: BullMQ attempts are effectively unlimited because Postgres
 * counts the tries and decides when a rotation has failed (the processor then
 * fails the job for good, and it is kept for inspection). Completed jobs are
 * removed so a failed rotation's id can be enqueued again on retry.
 */
const ROTATE_OPTIONS: JobsOptions = {
  attempts: 1_000_000,
  backoff: { type: 'rotation' },
  removeOnComplete: true,
  removeOnFail: { age: WEEK_SECONDS },
};

/** Scheduled rotations wait behind ones a person asked for (jobs without a priority run first). */
const SCHEDULED_PRIORITY = 10;

/** Retire jobs retry on their own; the sweep re-enqueues a retirement whose job gave up or was lost. */
const RETIRE_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 5_000 },
  removeOnComplete: true,
  removeOnFail: { age: WEEK_SECONDS },
};

/** Puts rotation and retirement jobs on their store's queue, with deterministic ids. */
@Injectable()
export class RotationQueue {
  constructor(
    private readonly jobs: JobQueues,
    private readonly sweeper: JobSweeper,
    private readonly clock: Clock,
  ) {}

  queue(store: SecretStoreName): Queue<RotationJobData> {
    return this.jobs.queue<RotationJobData>(rotationQueueName(store));
  }

  /** Adds rotate jobs; an id already queued is left alone (BullMQ ignores the duplicate). */
  async addRotations(refs: RotationRef[], options: { scheduled: boolean; delayMs?: number } = { scheduled: false }): Promise<void> {
    await this.addAll(refs.map((ref) => this.rotateJob(ref, options)));
  }

  /** A rotation's job, `rotate:<credentialId>:<toVersion>`; a scheduled one waits behind those a person asked for. */
  rotateJob(ref: RotationRef, options: { scheduled: boolean; delayMs?: number } = { scheduled: false }): DueJob<RotateJob> {
    return {
      queue: rotationQueueName(ref.secretStore),
      name: RotationJobName.Rotate,
      data: { rotationId: ref.id, credentialId: ref.credentialId, toVersion: ref.toVersion },
      opts: {
        ...ROTATE_OPTIONS,
        jobId: rotateJobId(ref),
        ...(options.scheduled ? { priority: SCHEDULED_PRIORITY } : {}),
        ...(options.delayMs ? { delay: options.delayMs } : {}),
      },
    };
  }

  /**
   * Enqueues a rotation again after it was failed for good: its old job (kept
   * in the failed set for inspection) holds the deterministic id, so it goes first.
   */
  async restartRotation(ref: RotationRef): Promise<void> {
    await this.sweeper.ensure([this.rotateJob(ref)]);
  }

  /** Adds retire jobs, delayed until each grace period ends (by our clock). */
  async addRetirements(refs: RotationRef[]): Promise<void> {
    const now = this.clock.now().getTime();
    await this.addAll(refs.map((ref) => this.retireJob(ref, now)));
  }

  /** A retirement's job, `retire:<credentialId>:<version>`, delayed until the grace period ends (by our clock). */
  retireJob(ref: RotationRef, now = this.clock.now().getTime()): DueJob<RetireJob> {
    return {
      queue: rotationQueueName(ref.secretStore),
      name: RotationJobName.Retire,
      data: { rotationId: ref.id, credentialId: ref.credentialId, version: ref.fromVersion },
      opts: {
        ...RETIRE_OPTIONS,
        jobId: retireJobId({ credentialId: ref.credentialId, version: ref.fromVersion }),
        delay: ref.graceEndsAt ? Math.max(0, new Date(ref.graceEndsAt).getTime() - now) : 0,
      },
    };
  }

  /**
   * Retirements that are due by our clock: a delayed job runs now, a lost or
   * finished one is added again. Returns how many were promoted or added.
   */
  async ensureRetirementsNow(refs: RotationRef[]): Promise<number> {
    const { added, promoted } = await this.sweeper.ensure(
      refs.map((ref) => ({ ...this.retireJob({ ...ref, graceEndsAt: null }), runNow: true })),
    );
    return added + promoted;
  }

  private async addAll(jobs: DueJob<RotationJobData>[]): Promise<void> {
    for (const [queue, group] of byQueue(jobs)) {
      await this.jobs.addBulk<RotationJobData>(
        queue,
        group.map(({ name, data, opts }) => ({ name, data, opts })),
      );
    }
  }
}

function byQueue<T extends { queue: string }>(jobs: T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const job of jobs) {
    const group = groups.get(job.queue);
    if (group) group.push(job);
    else groups.set(job.queue, [job]);
  }
  return groups;
}
