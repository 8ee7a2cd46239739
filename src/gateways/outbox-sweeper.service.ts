import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { tryAdvisoryXactLock } from '../common/db/advisory-lock';
import { DeliveriesRepository } from './deliveries.repository';
import { DeliveryQueue } from './delivery-queue';

const LOCK = 'agent-credentials:outbox-sweep';
const PAGE = 500;
const MAX_PAGES = 40;

export interface SweepResult {
  /** False when another replica held the sweep lock this round. */
  ran: boolean;
  checked: number;
  requeued: number;
}

/**
 * Re-enqueues pending deliveries whose jobs are gone (a Redis flush or
 * restart, a crash between commit and enqueue), so nothing written to the
 * outbox is lost. Only chain heads are considered: the rest wait for their
 * predecessor to hand over. One replica sweeps at a time.
 */
@Injectable()
export class OutboxSweeper {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: DeliveriesRepository,
    private readonly queue: DeliveryQueue,
  ) {}

  sweep(): Promise<SweepResult> {
    return this.dataSource.transaction(async (em) => {
      if (!(await tryAdvisoryXactLock(em, LOCK))) return { ran: false, checked: 0, requeued: 0 };
      let checked = 0;
      let requeued = 0;
      let after: { createdAt: Date; id: string } | null = null;
      for (let page = 0; page < MAX_PAGES; page++) {
        const heads = await this.repository.pendingHeads(em, after, PAGE);
        checked += heads.length;
        requeued += await this.queue.ensure(heads);
        if (heads.length < PAGE) break;
        after = heads[heads.length - 1];
      }
      return { ran: true, checked, requeued };
    });
  }
}
