import type { UsageRecord } from './usage-record';

/**
 * The port through which another module watches usage as it is recorded
 * (anomaly detection: src/alerts/alert-detector.service.ts). An observer
 * registers itself with UsageRecorderService.addObserver (usage-recorder.service.ts).
 *
 * `see` is called with every call as it is recorded, on the verification's
 * answer path: it only sums the call into the observer's own in-memory batch
 * (no I/O), and keeps no reference to the record, so recorded calls are not
 * held in memory until the flush (at tens of thousands of calls a second they
 * were most of what the process kept alive between flushes). The recorder's
 * flush `take`s each observer's batch when it takes its own buffer, then hands
 * it to `observe` before it writes the batch's rollups and `lastUsedAt` (so an
 * observer still reads the previous `lastUsedAt`). A failing observer is
 * logged and the batch's rollups are written all the same.
 *
 * `observe` holds the recorder's write until it resolves, so it should do only
 * what must precede that write (its reads); slower follow-up work (raising
 * alerts) goes on after it, and `settled` resolves once the work of every batch
 * seen so far is done. UsageRecorderService.flush waits for both.
 */
export abstract class UsageObserver<Batch = unknown> {
  /** Name for logs. */
  abstract readonly name: string;
  /** One recorded call: summed into the batch being gathered, synchronously; the record is not kept. */
  abstract see(record: UsageRecord): void;
  /** The batch gathered since the last take, and a new one started; null when no call was seen. */
  abstract take(): Batch | null;
  /** One batch of recorded calls (from take). */
  abstract observe(batch: Batch): Promise<void>;
  /** Resolves when the follow-up work of the batches observed so far is done. */
  settled(): Promise<void> {
    return Promise.resolve();
  }
}
