import { Injectable } from '@nestjs/common';

import { DAY_MS } from '../common/clock/clock';
import { decodeTimeCursor, encodeTimeCursor, Page, toPage } from '../common/pagination/pagination';
import { CopyBlockPool, UsageEventCopyBatch } from './usage-event-copy-batch';
import { UsageEventBatch, UsageEventQuery, UsageEventRecord, UsageEventSink } from './usage-event-sink';
import { dayOf, UsageEventsRepository } from './usage-events.repository';

/** Days ahead of today the scheduler keeps partitions for. */
const DAYS_AHEAD = 3;
/**
 * Free COPY text blocks kept for the next batches (64 KiB each: 16 MiB). The
 * recorder holds about twice its wait bound (src/enforcement/usage-recorder.service.ts)
 * at once, the batch being written and the one filling, some 12 MiB at a
 * steady 40,000-record bound: the blocks are reused rather than reallocated.
 */
const POOLED_BLOCKS = 256;

/**
 * The per-call records in Postgres, in day partitions. Records wait for their
 * write as COPY text in pooled blocks outside the JS heap
 * (src/usage/usage-event-copy-batch.ts). A batch first makes sure each of its
 * days has a partition (remembered per process, so that is a lookup in a set
 * after the first batch of a day), then is one COPY.
 */
@Injectable()
export class PostgresUsageEventSink extends UsageEventSink {
  private readonly knownDays = new Set<number>();
  private readonly blocks = new CopyBlockPool(POOLED_BLOCKS);

  constructor(private readonly repository: UsageEventsRepository) {
    super();
  }

  batch(): UsageEventCopyBatch {
    return new UsageEventCopyBatch(this.blocks);
  }

  async write(batch: UsageEventBatch): Promise<void> {
    if (!(batch instanceof UsageEventCopyBatch)) throw new TypeError('PostgresUsageEventSink writes batches it made (batch())');
    if (batch.size === 0) return;
    await this.ensureDays(batch.days);
    try {
      await this.repository.insert(batch);
    } catch (error) {
      // 23514: no partition for a row (another replica dropped or never made it): make them and try once more.
      if ((error as { code?: string }).code !== '23514') throw error;
      this.knownDays.clear();
      await this.ensureDays(batch.days);
      await this.repository.insert(batch);
    }
  }

  async list(query: UsageEventQuery): Promise<Page<UsageEventRecord>> {
    const cursor = decodeTimeCursor(query.cursor);
    const rows = await this.repository.list({
      credentialId: query.credentialId,
      ownerId: query.ownerId,
      from: query.from,
      to: query.to,
      after: cursor ? { at: cursor.createdAt, id: cursor.id } : undefined,
      limit: query.limit + 1,
    });
    return toPage(
      rows,
      query.limit,
      (row) => encodeTimeCursor({ createdAt: row.at, id: row.id }),
      (row) => row,
    );
  }

  async maintain(now: Date, keepFrom: Date): Promise<{ created: number; dropped: number }> {
    let created = 0;
    const today = dayOf(now).getTime();
    for (let i = 0; i <= DAYS_AHEAD; i++) {
      const day = new Date(today + i * DAY_MS);
      if (await this.repository.createPartition(day)) created++;
      this.knownDays.add(day.getTime());
    }
    let dropped = 0;
    const cutoff = dayOf(keepFrom).getTime();
    for (const day of await this.repository.partitionDays()) {
      // A partition ending at or before the first kept day holds only expired records.
      if (day.getTime() + DAY_MS <= cutoff) {
        await this.repository.dropPartition(day);
        this.knownDays.delete(day.getTime());
        dropped++;
      }
    }
    return { created, dropped };
  }

  private async ensureDays(days: ReadonlySet<number>): Promise<void> {
    for (const day of days) {
      if (this.knownDays.has(day)) continue;
      await this.repository.createPartition(new Date(day));
      this.knownDays.add(day);
    }
  }
}
