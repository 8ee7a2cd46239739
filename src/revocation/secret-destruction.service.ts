import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { JobsOptions, Queue } from 'bullmq';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { systemContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { tryAdvisoryXactLock } from '../common/db/advisory-lock';
import { JobQueues } from '../common/jobs/job-queues';
import { AfterCommit } from '../gateways/after-commit';
import { SecretStoreRegistry } from '../secret-stores/secret-store.registry';
import { RevocationCredentialEntity } from './entities/revocation-credential.entity';
import {
  RevocationQueue,
  secretDestructionBackoffMs,
  SecretDestructionJob,
  secretDestructionJobId,
  SecretDestructionJobName,
} from './secret-destruction-jobs';

const SWEEP_LOCK = 'agent-credentials:secret-destruction-sweep';
const SWEEP_BATCH = 500;

/** One try per job: Postgres records the failure and when to try next, the sweep re-enqueues. */
const JOB_OPTIONS: JobsOptions = { attempts: 1, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 } };

/**
 * Destroys a revoked credential's secret in its store, after the revocation
 * committed. The revocation_credentials row is the durable record: a store
 * that is down only delays this (retried with backoff until it confirms); the
 * credential is revoked regardless.
 */
@Injectable()
export class SecretDestructionService {
  private readonly logger = new Logger(SecretDestructionService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly stores: SecretStoreRegistry,
    private readonly jobs: JobQueues,
    private readonly afterCommit: AfterCommit,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  private get queue(): Queue<SecretDestructionJob> {
    return this.jobs.queue<SecretDestructionJob>(RevocationQueue.SecretDestruction);
  }

  /** Enqueues the destruction once the caller's transaction (which wrote the rows) commits. */
  scheduleAfterCommit(em: EntityManager, jobs: SecretDestructionJob[]): void {
    if (jobs.length) this.afterCommit.run(em, () => this.enqueue(jobs));
  }

  /** One attempt. Never throws for the store: a failure is recorded with the time of the next try. */
  async destroy(credentialId: string, requestId: string): Promise<'destroyed' | 'retrying' | 'skipped'> {
    const repo = this.dataSource.getRepository(RevocationCredentialEntity);
    const row = await repo.findOne({ where: { credentialId } });
    if (!row || row.secretStatus !== 'pending') return 'skipped';
    try {
      await this.stores.get(row.secretStore).deleteAll(row.secretTarget);
    } catch (error) {
      const failures = row.secretAttempts + 1;
      const message = (error as Error).message;
      await repo.update(
        { credentialId, secretStatus: 'pending' },
        {
          secretAttempts: failures,
          secretLastError: message,
          secretNextAttemptAt: new Date(this.clock.now().getTime() + secretDestructionBackoffMs(failures)),
        },
      );
      this.logger.warn({ credentialId, store: row.secretStore, attempts: failures, err: message }, 'could not destroy a revoked secret yet; will retry');
      return 'retrying';
    }
    await this.dataSource.transaction(async (em) => {
      const now = this.clock.now();
      const updated = await em.update(
        RevocationCredentialEntity,
        { credentialId, secretStatus: 'pending' },
        { secretStatus: 'destroyed', secretDestroyedAt: now, secretAttempts: row.secretAttempts + 1, secretLastError: null },
      );
      if (!updated.affected) return;
      await this.audit.record(em, systemContext('secret-destruction', requestId), {
        action: 'credential.secret_destroyed',
        targetType: 'credential',
        targetId: credentialId,
        data: { revocationId: row.revocationId, store: row.secretStore, attempts: row.secretAttempts + 1 },
      });
    });
    return 'destroyed';
  }

  /**
   * Re-enqueues destructions that are due and have no live job (failed
   * earlier, or lost with Redis). One replica at a time.
   */
  async sweep(): Promise<{ ran: boolean; requeued: number }> {
    return this.dataSource.transaction(async (em) => {
      if (!(await tryAdvisoryXactLock(em, SWEEP_LOCK))) return { ran: false, requeued: 0 };
      const due: SecretDestructionJob[] = await em.query(
        `SELECT revocation_id AS "revocationId", credential_id AS "credentialId" FROM revocation_credentials
          WHERE secret_status = 'pending' AND secret_next_attempt_at <= $1
          ORDER BY secret_next_attempt_at LIMIT $2`,
        [this.clock.now(), SWEEP_BATCH],
      );
      const missing: SecretDestructionJob[] = [];
      for (const job of due) {
        const id = secretDestructionJobId(job);
        const state = await this.queue.getJobState(id);
        if (state === 'completed' || state === 'failed') await this.queue.remove(id);
        if (state === 'unknown' || state === 'completed' || state === 'failed') missing.push(job);
      }
      await this.enqueue(missing);
      return { ran: true, requeued: missing.length };
    });
  }

  private async enqueue(jobs: SecretDestructionJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.queue.addBulk(
      jobs.map((data) => ({ name: SecretDestructionJobName.Destroy, data, opts: { ...JOB_OPTIONS, jobId: secretDestructionJobId(data) } })),
    );
  }
}
