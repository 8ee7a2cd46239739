import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { JobsOptions } from 'bullmq';
import { DataSource, EntityManager } from 'typeorm';

import { AuditEntry, AuditService } from '../audit/audit.service';
import { systemContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { AfterCommit } from '../common/db/after-commit';
import type { DueCursor, DueJob, DueWork } from '../common/jobs/due-work';
import { JobQueues } from '../common/jobs/job-queues';
import { JobSweeper, JobSweepResult } from '../common/jobs/job-sweeper';
import type { SecretStore, SecretStoreName } from '../secret-stores/secret-store';
import { SecretStoreRegistry } from '../secret-stores/secret-store.registry';
import {
  RevocationQueue,
  secretDestructionBackoffMs,
  SecretDestructionJob,
  secretDestructionJobId,
  SecretDestructionJobName,
} from './secret-destruction-jobs';
import { SecretDestructionsRepository } from './secret-destructions.repository';

const BATCH_WINDOW_MS = 100;
const MAX_BATCH = 50;
/** Rows one attempt reads and records at a time. */
const ATTEMPT_SLICE = 500;

export type DestructionOutcome = 'destroyed' | 'retrying' | 'skipped';

interface PendingDestruction {
  credentialId: string;
  requestId: string;
  resolve: (outcome: DestructionOutcome) => void;
  reject: (error: unknown) => void;
}

/** One try per job: Postgres records the failure and when to try next, the job sweep re-enqueues. */
const JOB_OPTIONS: JobsOptions = { attempts: 1, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 } };

/**
 * Destroys a revoked credential's secret in its store, after the revocation
 * committed. The revocation_credentials row is the durable record: a store
 * that is down only delays this (retried with backoff until it confirms); the
 * credential is revoked regardless.
 */
@Injectable()
export class SecretDestructionService implements DueWork, OnModuleInit {
  readonly name = 'secret-destructions';
  private readonly logger = new Logger(SecretDestructionService.name);
  private batch: PendingDestruction[] = [];
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly stores: SecretStoreRegistry,
    private readonly jobs: JobQueues,
    private readonly sweeper: JobSweeper,
    private readonly repository: SecretDestructionsRepository,
    private readonly afterCommit: AfterCommit,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.sweeper.register(this);
  }

  /**
   * Enqueues the jobs (destructionJobsOf) once the caller's transaction, which
   * wrote their rows, commits.
   */
  scheduleAfterCommit(em: EntityManager, jobs: SecretDestructionJob[]): void {
    if (jobs.length === 0) return;
    this.afterCommit.run(em, () => this.enqueue(jobs));
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
    // Each destruction is audited under the request (job) that asked for it first.
    const requestIds = new Map<string, string>();
    for (const i of items) if (!requestIds.has(i.credentialId)) requestIds.set(i.credentialId, i.requestId);
    this.destroyBatch([...requestIds.keys()], (id) => requestIds.get(id)!).then(
      (outcomes) => items.forEach((i) => i.resolve(outcomes.get(i.credentialId) ?? 'skipped')),
      (error: unknown) => items.forEach((i) => i.reject(error)),
    );
  }

  /**
   * One attempt for each of these credentials at once (a batch job: the
   * credentials one commit revoked in one store), ATTEMPT_SLICE at a time.
   * A batch of up to MAX_BATCH joins the attempts of the same window
   * (BATCH_WINDOW_MS), as `destroy` does: a stream of group commits, each its
   * own small job, shares one transaction and one audit append per window.
   * Like `destroy`, never throws for the store.
   */
  async destroyMany(credentialIds: string[], requestId: string): Promise<Map<string, DestructionOutcome>> {
    const outcomes = new Map<string, DestructionOutcome>();
    if (credentialIds.length <= MAX_BATCH) {
      const each = await Promise.all(credentialIds.map((id) => this.destroy(id, requestId)));
      credentialIds.forEach((id, i) => outcomes.set(id, each[i]));
      return outcomes;
    }
    for (let i = 0; i < credentialIds.length; i += ATTEMPT_SLICE) {
      for (const [id, outcome] of await this.destroyBatch(credentialIds.slice(i, i + ATTEMPT_SLICE), () => requestId)) {
        outcomes.set(id, outcome);
      }
    }
    return outcomes;
  }

  private async destroyBatch(
    credentialIds: string[],
    requestIdOf: (credentialId: string) => string,
  ): Promise<Map<string, DestructionOutcome>> {
    const outcomes = new Map<string, DestructionOutcome>();
    const rows = await this.repository.pendingOf(credentialIds);
    // Per store, each with as many calls in flight as it takes (the local store groups its deletes into one statement).
    const attempts: Array<{ row: (typeof rows)[number]; error: Error | null }> = [];
    const byStore = new Map<string, typeof rows>();
    for (const row of rows) byStore.set(row.secretStore, [...(byStore.get(row.secretStore) ?? []), row]);
    await Promise.all(
      [...byStore].map(async ([name, storeRows]) => {
        let store: SecretStore;
        try {
          store = this.stores.get(name as SecretStoreName);
        } catch (error) {
          for (const row of storeRows) attempts.push({ row, error: error as Error });
          return;
        }
        let next = 0;
        await Promise.all(
          Array.from({ length: Math.min(store.deletionsInFlight, storeRows.length) }, async () => {
            while (next < storeRows.length) {
              const row = storeRows[next++];
              try {
                await store.deleteAll(row.secretTarget);
                attempts.push({ row, error: null });
              } catch (error) {
                attempts.push({ row, error: error as Error });
              }
            }
          }),
        );
      }),
    );
    for (const { row, error } of attempts.filter((a) => a.error)) {
      const failures = row.secretAttempts + 1;
      const message = error!.message;
      await this.repository.recordFailure(
        row.credentialId,
        failures,
        message,
        new Date(this.clock.now().getTime() + secretDestructionBackoffMs(failures)),
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
      const updated = await this.repository.markDestroyed(em, destroyed, now);
      for (const row of updated) outcomes.set(row.credential_id, 'destroyed');
      await this.audit.recordEach(
        em,
        updated.map((row) => ({
          ctx: systemContext('secret-destruction', requestIdOf(row.credential_id)),
          entry: {
            action: 'credential.secret_destroyed',
            targetType: 'credential',
            targetId: row.credential_id,
            data: { revocationId: row.revocation_id, store: row.secret_store, attempts: row.secret_attempts },
          } satisfies AuditEntry,
        })),
      );
    });
    return outcomes;
  }

  /** One round of the job sweep for destructions now (the scheduler runs it every OUTBOX_SWEEP_INTERVAL_MS). */
  sweep(): Promise<JobSweepResult> {
    return this.sweeper.sweep(this);
  }

  /** The job sweep's view: every pending destruction whose attempt is due must have its job (failed earlier, or lost). */
  async duePage(em: EntityManager, now: Date, after: DueCursor | null, limit: number) {
    const due = await this.repository.due(em, now, after, limit);
    return due.map(({ nextAttemptAt, ...data }) => ({ cursor: { at: nextAttemptAt, id: data.credentialId }, job: this.jobOf(data) }));
  }

  private jobOf(data: SecretDestructionJob): DueJob<SecretDestructionJob> {
    return {
      queue: RevocationQueue.SecretDestruction,
      name: SecretDestructionJobName.Destroy,
      data,
      opts: { ...JOB_OPTIONS, jobId: secretDestructionJobId(data) },
    };
  }

  private async enqueue(jobs: SecretDestructionJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.jobs.addBulk<SecretDestructionJob>(
      RevocationQueue.SecretDestruction,
      jobs.map((data) => {
        const { name, opts } = this.jobOf(data);
        return { name, data, opts };
      }),
    );
  }
}
