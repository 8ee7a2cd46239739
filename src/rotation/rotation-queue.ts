import { Injectable } from '@nestjs/common';
import type { JobsOptions, Queue } from 'bullmq';
import { Clock } from '../common/clock/clock';
import { JobQueues } from '../common/jobs/job-queues';
import type { SecretStoreName } from '../config/app-config';
import {
  retireJobId,
  RetireJob,
  rotateJobId,
  RotateJob,
  RotationJobData,
  RotationJobName,
  rotationQueueName,
} from './rotation-jobs';
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
    private readonly clock: Clock,
  ) {}

  queue(store: SecretStoreName): Queue<RotationJobData> {
    return this.jobs.queue<RotationJobData>(rotationQueueName(store));
  }

  /** Adds rotate jobs; an id already queued is left alone (BullMQ ignores the duplicate). */
  async addRotations(refs: RotationRef[], options: { scheduled: boolean; delayMs?: number } = { scheduled: false }): Promise<void> {
    for (const [store, group] of byStore(refs)) {
      await this.jobs.addBulk<RotationJobData>(
        rotationQueueName(store),
        group.map((ref) => ({
          name: RotationJobName.Rotate,
          data: { rotationId: ref.id, credentialId: ref.credentialId, toVersion: ref.toVersion } satisfies RotateJob,
          opts: {
            ...ROTATE_OPTIONS,
            jobId: rotateJobId(ref),
            ...(options.scheduled ? { priority: SCHEDULED_PRIORITY } : {}),
            ...(options.delayMs ? { delay: options.delayMs } : {}),
          },
        })),
      );
    }
  }

  /**
   * Enqueues a rotation again after it was failed for good: its old job (kept
   * in the failed set for inspection) holds the deterministic id, so it goes first.
   */
  async restartRotation(ref: RotationRef): Promise<void> {
    await this.removeFinished(ref.secretStore, rotateJobId(ref));
    await this.addRotations([ref]);
  }

  /** Adds retire jobs, delayed until each grace period ends (by our clock). */
  async addRetirements(refs: RotationRef[]): Promise<void> {
    const now = this.clock.now().getTime();
    for (const [store, group] of byStore(refs)) {
      await this.jobs.addBulk<RotationJobData>(
        rotationQueueName(store),
        group.map((ref) => ({
          name: RotationJobName.Retire,
          data: { rotationId: ref.id, credentialId: ref.credentialId, version: ref.fromVersion } satisfies RetireJob,
          opts: {
            ...RETIRE_OPTIONS,
            jobId: retireJobId({ credentialId: ref.credentialId, version: ref.fromVersion }),
            delay: ref.graceEndsAt ? Math.max(0, new Date(ref.graceEndsAt).getTime() - now) : 0,
          },
        })),
      );
    }
  }

  /**
   * Retirements that are due by our clock: a delayed job runs now, a lost or
   * finished one is added again. Returns how many were promoted or added.
   */
  async ensureRetirementsNow(refs: RotationRef[]): Promise<number> {
    let moved = 0;
    const missing: RotationRef[] = [];
    for (const ref of refs) {
      const id = retireJobId({ credentialId: ref.credentialId, version: ref.fromVersion });
      const queue = this.queue(ref.secretStore);
      const job = await queue.getJob(id);
      if (!job) {
        missing.push(ref);
        continue;
      }
      const state = await job.getState();
      if (state === 'delayed') {
        await job.promote().catch(() => undefined); // it may have just started
        moved++;
      } else if (state === 'completed' || state === 'failed' || state === 'unknown') {
        await queue.remove(id);
        missing.push(ref);
      }
    }
    await this.addRetirements(missing.map((ref) => ({ ...ref, graceEndsAt: null })));
    return moved + missing.length;
  }

  /**
   * Makes sure each running rotation has a live job: missing (a Redis flush),
   * or left finished by a crash, it is added again. Returns how many were added.
   */
  async ensureRotations(refs: RotationRef[]): Promise<number> {
    const missing: RotationRef[] = [];
    for (const ref of refs) {
      const id = rotateJobId(ref);
      const state = await this.queue(ref.secretStore).getJobState(id);
      if (state === 'completed' || state === 'failed') await this.queue(ref.secretStore).remove(id);
      if (state === 'unknown' || state === 'completed' || state === 'failed') missing.push(ref);
    }
    await this.addRotations(missing);
    return missing.length;
  }

  private async removeFinished(store: SecretStoreName, id: string): Promise<void> {
    const state = await this.queue(store).getJobState(id);
    if (state === 'completed' || state === 'failed') await this.queue(store).remove(id);
  }
}

function byStore(refs: RotationRef[]): Map<SecretStoreName, RotationRef[]> {
  const groups = new Map<SecretStoreName, RotationRef[]>();
  for (const ref of refs) {
    const group = groups.get(ref.secretStore);
    if (group) group.push(ref);
    else groups.set(ref.secretStore, [ref]);
  }
  return groups;
}
