import { Injectable, OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import type { DueCursor, DueWork } from '../common/jobs/due-work';
import { JobSweeper, JobSweepResult } from '../common/jobs/job-sweeper';
import { DeliveriesRepository } from './deliveries.repository';
import { drainTargetOf } from './delivery-jobs';
import { DeliveryQueue } from './delivery-queue';

/**
 * Pending deliveries due within this long are checked: a lost job is back
 * (with its delay) before its attempt is due, and a backlog waiting on long
 * backoffs (a gateway down for hours) is not read every round.
 */
const LOOKAHEAD_MS = 60_000;

/** The page cursor of the notification target, which comes before every gateway. */
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * The outbox's part of the job sweep: every target (gateway) with a pending
 * delivery at the head of its chain whose attempt is due within a minute must
 * have its drain job, so nothing written to the outbox is lost to a Redis
 * flush or a crash between commit and wake. The rest of a chain follows in
 * the drain's later batches.
 */
@Injectable()
export class OutboxSweeperService implements DueWork, OnModuleInit {
  readonly name = 'deliveries';

  constructor(
    private readonly repository: DeliveriesRepository,
    private readonly queue: DeliveryQueue,
    private readonly sweeper: JobSweeper,
  ) {}

  onModuleInit(): void {
    this.sweeper.register(this);
  }

  /** One round now (the scheduler runs it every OUTBOX_SWEEP_INTERVAL_MS). */
  sweep(): Promise<JobSweepResult> {
    return this.sweeper.sweep(this);
  }

  /**
   * Each target's earliest due chain head stands for its drain and says when
   * it runs: one row per target, so a backlog of ten thousand deliveries is
   * one job to check, not ten thousand. Pages go by gateway id.
   */
  async duePage(em: EntityManager, now: Date, after: DueCursor | null, limit: number) {
    const heads = await this.repository.dueHeads(em, new Date(now.getTime() + LOOKAHEAD_MS), after, limit);
    const at = now.getTime();
    return heads.map((ref) => ({
      cursor: { at: ref.nextAttemptAt!, id: ref.gatewayId ?? ZERO_UUID },
      job: this.queue.jobOf(drainTargetOf(ref), ref.nextAttemptAt, at),
    }));
  }
}
