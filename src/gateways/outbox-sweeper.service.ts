import { Injectable, OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import type { DueCursor, DueWork } from '../common/jobs/due-work';
import { JobSweeper, JobSweepResult } from '../common/jobs/job-sweeper';
import { DeliveriesRepository } from './deliveries.repository';
import { DeliveryQueue } from './delivery-queue';

/**
 * Pending deliveries due within this long are checked: a lost job is back
 * (with its delay) before its attempt is due, and a backlog waiting on long
 * backoffs (a gateway down for hours) is not read every round.
 */
const LOOKAHEAD_MS = 60_000;

/**
 * The outbox's part of the job sweep: every pending delivery at the head of
 * its chain whose attempt is due within a minute must have its job, so
 * nothing written to the outbox is lost to a Redis flush or a crash between
 * commit and enqueue. The rest of a chain waits for its predecessor to hand over.
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

  async duePage(em: EntityManager, now: Date, after: DueCursor | null, limit: number) {
    const heads = await this.repository.dueHeads(em, new Date(now.getTime() + LOOKAHEAD_MS), after, limit);
    const at = now.getTime();
    return heads.map((ref) => ({ cursor: { at: ref.nextAttemptAt!, id: ref.id }, job: this.queue.jobOf(ref, at) }));
  }
}
