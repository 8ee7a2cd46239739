import type { Page } from '../common/pagination/pagination';

/** Where a call came from: a verification here (verify, authz) or a gateway that verified it itself (POST /v1/usage). */
export type UsageEventSource = 'verify' | 'authz' | 'gateway';

/** One call as a security team reads it back. Never the presented key. */
export interface UsageEventRecord {
  id: string;
  at: Date;
  credentialId: string;
  clientId: string;
  ownerId: string;
  source: UsageEventSource;
  gatewayId: string | null;
  method: string | null;
  path: string | null;
  scope: string | null;
  statusCode: number | null;
  ip: string | null;
  requestId: string | null;
  outcome: 'allowed' | 'denied';
  denyCode: string | null;
}

export interface UsageEventQuery {
  credentialId?: string;
  /** Only this owner's credentials (an owner token reads its own). */
  ownerId?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
}

/**
 * Per-call records on their way to the sink, kept in the form the sink writes
 * them (UsageEventSink.batch): the recorder buffers every call until its flush,
 * and a record kept as the store's own compact encoding (for Postgres, COPY
 * text in reused blocks outside the JS heap) costs a fraction of the object
 * it was made from, and nothing for the garbage collector.
 */
export abstract class UsageEventBatch {
  /** Records held. */
  abstract readonly size: number;
  /** Encodes one record at the end (the object itself is not kept). */
  abstract add(event: UsageEventRecord): void;
  /** Moves the records of `later` (a batch of the same sink) after this one's; `later` is left empty. */
  abstract append(later: UsageEventBatch): void;
  /** Drops the newest records past the first `max` (a sink may keep a few more: whole blocks); returns how many it dropped. */
  abstract truncate(max: number): number;
  /** Done with it (written, or given up): its memory may be reused; the batch is left empty. */
  abstract release(): void;
}

/**
 * The one way per-call records are written and read: the usage recorder and
 * ingestion write through it, GET /v1/usage/events reads through it. The
 * hourly rollups are not its business, so another store (a column store) can
 * take the per-call records over by providing this class alone.
 */
export abstract class UsageEventSink {
  /** An empty batch in this sink's own encoding, to buffer records in until they are written. */
  abstract batch(): UsageEventBatch;
  /** Writes a batch made by `batch()`; resolves when it is stored, rejects when none of it is (the batch is kept as it was). */
  abstract write(batch: UsageEventBatch): Promise<void>;
  /** Newest first. */
  abstract list(query: UsageEventQuery): Promise<Page<UsageEventRecord>>;
  /** Makes room for the coming days and forgets days older than `keepFrom` (the scheduler's round). */
  abstract maintain(now: Date, keepFrom: Date): Promise<{ created: number; dropped: number }>;
}
