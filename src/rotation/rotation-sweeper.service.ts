import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { AuditEntry, AuditService } from '../audit/audit.service';
import { systemContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { tryAdvisoryXactLock } from '../common/db/advisory-lock';
import { AfterCommit } from '../common/db/after-commit';
import type { DueWork } from '../common/jobs/due-work';
import { JobSweeper } from '../common/jobs/job-sweeper';
import { AppConfig } from '../config/app-config';
import { RotationMetrics } from './rotation-metrics';
import { RotationQueue } from './rotation-queue';
import { RotationsRepository } from './rotations.repository';

const LOCK = 'agent-credentials:rotation-sweep';
const SCHEDULER = 'rotation-scheduler';
/** One sweep starts at most this many batches, so a huge backlog never holds one sweep for long. */
const MAX_BATCHES = 200;

export interface RotationSweepResult {
  /** False when another replica held the sweep lock. */
  ran: boolean;
  /** Rotations started because their credential was due. */
  started: number;
  /** Retirements whose grace period ended, handed to a worker now. */
  retiring: number;
  /** Running rotations whose job was lost, enqueued again. */
  requeued: number;
}

/**
 * The scheduler's sweep, under a Postgres advisory lock so several scheduler
 * replicas take turns (and even when two overlap, a rotation is created once:
 * `(credential_id, to_version)` is unique and the insert skips conflicts):
 *
 * 1. Starts a rotation for every credential whose `nextRotationAt` has
 *    passed, one INSERT ... SELECT per batch over the inventory's due index,
 *    with its audit events in the same transaction, then enqueues the jobs
 *    (`rotate:<credentialId>:<toVersion>`) after commit.
 * 2. Hands over retirements whose grace period is over by our clock (the
 *    delayed job is promoted, or added again if it was lost).
 * 3. Re-enqueues running rotations whose job is gone (a Redis flush, a crash
 *    between commit and enqueue).
 *
 * Steps 2 and 3 are rotation's two kinds of due work in the job sweep
 * (JobSweeper), which also runs them every OUTBOX_SWEEP_INTERVAL_MS and when
 * a worker starts, so a lost job is found within seconds, not at the next
 * rotation sweep.
 */
@Injectable()
export class RotationSweeperService implements OnModuleInit {
  /** Running rotations untouched for ROTATION_STALE_AFTER_MS (long enough for the enqueue after their commit). */
  private readonly running: DueWork = {
    name: 'rotations',
    duePage: async (em, now, after, limit) => {
      const staleBefore = new Date(now.getTime() - this.config.rotation.staleAfterMs);
      const refs = await this.repository.staleRunning(em, staleBefore, now, after, limit);
      return refs.map((ref) => ({
        cursor: { at: ref.updatedAt, id: ref.id },
        job: this.queue.rotateJob(ref, { scheduled: ref.trigger === 'scheduled' }),
      }));
    },
  };

  /** Completed rotations whose grace period is over by our clock: their retire job runs now. */
  private readonly retirements: DueWork = {
    name: 'retirements',
    duePage: async (em, now, after, limit) => {
      const refs = await this.repository.dueRetirements(em, now, after, limit);
      return refs.map((ref) => ({
        cursor: { at: ref.graceEndsAt!, id: ref.id },
        job: { ...this.queue.retireJob({ ...ref, graceEndsAt: null }), runNow: true },
      }));
    },
  };

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: RotationsRepository,
    private readonly queue: RotationQueue,
    private readonly jobSweeper: JobSweeper,
    private readonly afterCommit: AfterCommit,
    private readonly audit: AuditService,
    private readonly metrics: RotationMetrics,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.jobSweeper.register(this.running);
    this.jobSweeper.register(this.retirements);
  }

  async sweep(): Promise<RotationSweepResult> {
    const result: RotationSweepResult = { ran: false, started: 0, retiring: 0, requeued: 0 };
    const batch = this.config.rotation.sweepBatch;
    for (let i = 0; i < MAX_BATCHES; i++) {
      const started = await this.startDueBatch(batch);
      if (started === null) return result;
      result.ran = true;
      result.started += started;
      if (started < batch) break;
    }
    const retirements = await this.jobSweeper.sweep(this.retirements);
    result.retiring = retirements.requeued + retirements.promoted;
    result.requeued = (await this.jobSweeper.sweep(this.running)).requeued;
    return result;
  }

  /** One batch in one transaction; null when another replica holds the lock. */
  private startDueBatch(limit: number): Promise<number | null> {
    return this.dataSource.transaction(async (em) => {
      if (!(await tryAdvisoryXactLock(em, LOCK))) return null;
      const now = this.clock.now();
      const ctx = systemContext(SCHEDULER, `sweep:${now.toISOString()}`);
      const started = await this.repository.createDue(em, limit, now, ctx.actor.tokenId);
      if (started.length === 0) return 0;
      await this.audit.record(
        em,
        ctx,
        ...started.map((r): AuditEntry => ({
          action: 'rotation.scheduled',
          targetType: 'credential',
          targetId: r.credentialId,
          data: { rotationId: r.id, fromVersion: r.fromVersion, toVersion: r.toVersion, store: r.secretStore },
        })),
      );
      this.afterCommit.run(em, async () => {
        for (const r of started) this.metrics.rotationStarted(r.secretStore, 'scheduled');
        await this.queue.addRotations(started, { scheduled: true });
      });
      return started.length;
    });
  }
}
