import { Injectable, OnModuleInit } from '@nestjs/common';

import { JobQueues } from '../common/jobs/job-queues';
import { SecretDestructionService } from './secret-destruction.service';
import { RevocationQueue, SecretDestructionJob } from './secret-destruction-jobs';

@Injectable()
export class SecretDestructionProcessor implements OnModuleInit {
  constructor(
    private readonly jobs: JobQueues,
    private readonly destruction: SecretDestructionService,
  ) {}

  onModuleInit(): void {
    this.jobs.startWorker<SecretDestructionJob>(
      RevocationQueue.SecretDestruction,
      async (job) => {
        await this.destruction.destroy(job.data.credentialId, `job:${job.id}`);
      },
      { concurrency: 32 },
    );
  }
}
