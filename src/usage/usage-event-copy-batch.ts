import { DAY_MS } from '../common/clock/clock';
import { copyText } from '../common/db/copy-in';
import { UsageEventBatch, UsageEventRecord } from './usage-event-sink';

/** Bytes of COPY text per block: a few hundred records, one CopyData message each when written. */
export const COPY_BLOCK_BYTES = 64 * 1024;

/**
 * Blocks of COPY_BLOCK_BYTES outside the JS heap, handed out and taken back:
 * a batch written gives its blocks to the next ones, so the memory of the
 * records waiting for Postgres is reused flush after flush instead of being
 * allocated and left to the garbage collector. At most `keep` free blocks are
 * held; past that a returned block is let go.
 */
export class CopyBlockPool {
  private readonly free: Buffer[] = [];

  constructor(private readonly keep: number) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(COPY_BLOCK_BYTES);
  }

  give(block: Buffer): void {
    if (block.length === COPY_BLOCK_BYTES && this.free.length < this.keep) this.free.push(block);
  }

  /** Free blocks held now. */
  get idle(): number {
    return this.free.length;
  }
}

interface Block {
  bytes: Buffer;
  used: number;
  records: number;
}

/**
 * PostgresUsageEventSink's batch: records as COPY text, UTF-8, written into
 * pooled blocks as they are added (about 250 bytes a record, against some
 * 570 bytes of heap for the record object and its strings), and the UTC days
 * they fall on (for the partitions a write makes sure of).
 */
export class UsageEventCopyBatch extends UsageEventBatch {
  private blocks: Block[] = [];
  private records = 0;
  /** Start (epoch ms) of each UTC day a record of the batch falls on. */
  readonly days = new Set<number>();

  constructor(private readonly pool: CopyBlockPool) {
    super();
  }

  get size(): number {
    return this.records;
  }

  add(event: UsageEventRecord): void {
    // Field by field into the block (no line string made first), in the column order of src/usage/usage-events.repository.ts.
    const fields = [
      event.id,
      event.at.toISOString(),
      event.credentialId,
      copyText(event.clientId),
      event.ownerId,
      event.source,
      copyText(event.gatewayId),
      copyText(event.method),
      copyText(event.path),
      copyText(event.scope),
      copyText(event.statusCode),
      copyText(event.ip),
      copyText(event.requestId),
      event.outcome,
      copyText(event.denyCode),
    ];
    // A UTF-16 unit is at most 3 bytes of UTF-8; a tab or the newline after each field.
    let most = fields.length;
    for (const field of fields) most += field.length * 3;
    let block = this.blocks[this.blocks.length - 1];
    if (!block || block.bytes.length - block.used < most) {
      block = { bytes: most > COPY_BLOCK_BYTES ? Buffer.allocUnsafeSlow(most) : this.pool.take(), used: 0, records: 0 };
      this.blocks.push(block);
    }
    const bytes = block.bytes;
    let at = block.used;
    for (let i = 0; i < fields.length; i++) {
      at += bytes.write(fields[i]!, at);
      bytes[at++] = i === fields.length - 1 ? 0x0a : 0x09;
    }
    block.used = at;
    block.records++;
    this.records++;
    this.days.add(Math.floor(event.at.getTime() / DAY_MS) * DAY_MS);
  }

  append(later: UsageEventBatch): void {
    const other = later as UsageEventCopyBatch;
    this.blocks.push(...other.blocks);
    this.records += other.records;
    for (const day of other.days) this.days.add(day);
    other.blocks = [];
    other.records = 0;
    other.days.clear();
  }

  /** Whole blocks at a time: at most `max` records and one block's worth are left. */
  truncate(max: number): number {
    let dropped = 0;
    while (this.blocks.length > 0 && this.records - this.blocks[this.blocks.length - 1]!.records >= max && this.records > max) {
      const block = this.blocks.pop()!;
      this.records -= block.records;
      dropped += block.records;
      this.pool.give(block.bytes);
    }
    return dropped;
  }

  release(): void {
    for (const block of this.blocks) this.pool.give(block.bytes);
    this.blocks = [];
    this.records = 0;
    this.days.clear();
  }

  /** The COPY text, block by block (views of the blocks, not copies: valid until the batch is released). */
  *chunks(): Generator<Buffer> {
    for (const block of this.blocks) if (block.used > 0) yield block.bytes.subarray(0, block.used);
  }
}
