import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { JobsOptions, Queue } from 'bullmq';
import { DataSource, EntityManager, In } from 'typeorm';
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

const BATCH_WINDOW_MS = 100;
const MAX_BATCH = 50;

export type DestructionOutcome = 'destroyed' | 'retrying' | 'skipped';

interface PendingDestruction {
  credentialId: string;
  requestId: string;
  resolve: (outcome: DestructionOutcome) => void;
  reject: (error: unknown) => void;
}

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
  private batch: PendingDestruction[] = [];
  private flushTimer: NodeJS.Timeout | null = null;

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

  /**
   * One attempt for one credential. Never throws for the store: a failure is
   * recorded with the time of the next try. Attempts arriving within a few
   * milliseconds share one transaction and one audit append (the audit chain
   * is a single lock every revocation also waits on, so a burst of
   * destructions must not take it once each).
   */
  destroy(credentialId: string, requestId: string): Promise<DestructionOutcome> {
    return new Promise((resolve, reject) => {
      this.batch.push({ credentialId, requestId, resolve, reject });
      if (this.batch.length >= MAX_BATCH) this.flush();
      else this.flushTimer ??= setTimeout(() => this.flush(), BATCH_WINDOW_MS);
    });
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const items = this.batch;
    this.batch = [];
    if (items.length === 0) return;
    this.destroyBatch([...new Set(items.map((i) => i.credentialId))], items[0].requestId).then(
      (outcomes) => items.forEach((i) => i.resolve(outcomes.get(i.credentialId) ?? 'skipped')),
      (error: unknown) => items.forEach((i) => i.reject(error)),
    );
  }

  private async destroyBatch(credentialIds: string[], requestId: string): Promise<Map<string, DestructionOutcome>> {
    const outcomes = new Map<string, DestructionOutcome>();
    const repo = this.dataSource.getRepository(RevocationCredentialEntity);
    const rows = await repo.find({ where: { credentialId: In(credentialIds), secretStatus: 'pending' } });
    const attempts = await Promise.all(
      rows.map(async (row) => {
        try {
          await this.stores.get(row.secretStore).deleteAll(row.secretTarget);
          return { row, error: null };
        } catch (error) {
          return { row, error: error as Error };
        }
      }),
    );
    for (const { row, error } of attempts.filter((a) => a.error)) {
      const failures = row.secretAttempts + 1;
      const message = error!.message;
      await repo.update(
        { credentialId: row.credentialId, secretStatus: 'pending' },
        {
          secretAttempts: failures,
          secretLastError: message,
          secretNextAttemptAt: new Date(this.clock.now().getTime() + secretDestructionBackoffMs(failures)),
        },
      );
      outcomes.set(row.credentialId, 'retrying');
      this.logger.warn(
        { credentialId: row.credentialId, store: row.secretStore, attempts: failures, err: message },
        'could not destroy a revoked secret yet; will retry',
      );
    }
    const destroyed = attempts.filter((a) => !a.error).map((a) => a.row.credentialId);
    if (destroyed.length === 0) return outcomes;
    await this.dataSource.transaction(async (em) => {
      const now = this.clock.now();
      const updated: Array<{ credential_id: string; revocation_id: string; secret_store: string; secret_attempts: number }> = (
        await em.query(
          `UPDATE revocation_credentials
              SET secret_status = 'destroyed', secret_destroyed_at = $2, secret_attempts = secret_attempts + 1, secret_last_error = NULL
            WHERE credential_id = ANY($1::uuid[]) AND secret_status = 'pending'
            RETURNING credential_id, revocation_id, secret_store, secret_attempts`,
          [destroyed, now],
        )
      )[0];
      for (const row of updated) outcomes.set(row.credential_id, 'destroyed');
      await this.audit.record(
        em,
        systemContext('secret-destruction', requestId),
        ...updated.map((row) => ({
          action: 'credential.secret_destroyed',
          targetType: 'credential',
          targetId: row.credential_id,
          data: { revocationId: row.revocation_id, store: row.secret_store, attempts: row.secret_attempts },
        })),
      );
    });
    return outcomes;
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
    await this.jobs.addBulk<SecretDestructionJob>(
      RevocationQueue.SecretDestruction,
      jobs.map((data) => ({ name: SecretDestructionJobName.Destroy, data, opts: { ...JOB_OPTIONS, jobId: secretDestructionJobId(data) } })),
    );
  }
}
