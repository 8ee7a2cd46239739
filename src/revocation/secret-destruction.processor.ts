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
        if (job.data.credentialIds && job.data.credentialIds.length > 1)
          await this.destruction.destroyMany(job.data.credentialIds, `job:${job.id}`);
        else await this.destruction.destroy(job.data.credentialId, `job:${job.id}`);
      },
      { concurrency: 32 },
    );
  }
}
