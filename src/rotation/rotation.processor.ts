import { Injectable, OnModuleInit } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';

import { JobQueues } from '../common/jobs/job-queues';
import { AppConfig } from '../config/app-config';
import { SecretStoreRegistry } from '../secret-stores/secret-store.registry';
import { RetireJob, RetryLaterError, RotateJob, RotationJobData, RotationJobName, rotationQueueName } from './rotation-jobs';
import { RotationRunnerService } from './rotation-runner.service';

/**
 * The rotation workers: one per configured store, each with that store's
 * rate limit (BullMQ's limiter is global across worker processes). Postgres
 * holds the truth (step, tries, next try); BullMQ only waits and hands a
 * crashed worker's job to another after its lock expires.
 */
@Injectable()
export class RotationProcessor implements OnModuleInit {
  constructor(
    private readonly jobs: JobQueues,
    private readonly runner: RotationRunnerService,
    private readonly stores: SecretStoreRegistry,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    const { concurrency, jobLockMs, ratePerMinute, rateWindowMs } = this.config.rotation;
    for (const store of this.stores.all()) {
      this.jobs.startWorker<RotationJobData>(rotationQueueName(store.name), (job) => this.process(job), {
        concurrency,
        limiter: { max: ratePerMinute[store.name], duration: rateWindowMs },
        lockMs: jobLockMs,
        settings: {
          // RetryLaterError carries the delay Postgres recorded; anything else
          // (Postgres down, a bug) backs off exponentially up to a minute.
          backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
            error instanceof RetryLaterError ? error.delayMs : Math.min(1000 * 2 ** Math.min(attemptsMade, 6), 60_000),
        },
      });
    }
  }

  async process(job: Job<RotationJobData>): Promise<void> {
    const requestId = `job:${job.id}`;
    if (job.name === RotationJobName.Retire) {
      await this.runner.retire((job.data as RetireJob).rotationId, requestId);
      return;
    }
    const outcome = await this.runner.rotate((job.data as RotateJob).rotationId, requestId);
    if (outcome.kind === 'retry') throw new RetryLaterError(outcome.delayMs, outcome.error);
    // Failed for good: the job is kept in the failed set for inspection; a retry re-enqueues it.
    if (outcome.kind === 'failed') throw new UnrecoverableError(outcome.error);
  }
}
