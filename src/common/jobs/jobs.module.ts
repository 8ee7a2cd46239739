import { Global, Module } from '@nestjs/common';

import { JobQueues } from './job-queues';
import { JobSweepCron } from './job-sweep.cron';
import { JobSweeper } from './job-sweeper';

/** Queues and workers, and the job sweep every module registers its kinds of due work with. */
@Global()
@Module({ providers: [JobQueues, JobSweeper, JobSweepCron], exports: [JobQueues, JobSweeper] })
export class JobsModule {}
