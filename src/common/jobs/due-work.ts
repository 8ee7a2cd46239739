import type { JobsOptions } from 'bullmq';
import type { EntityManager } from 'typeorm';

/** Where a page of due work ended: every kind is read in (at, id) order. */
export interface DueCursor {
  at: Date;
  id: string;
}

/** The job a row in Postgres says should exist, as it would be added. */
export interface DueJob<T = unknown> {
  queue: string;
  name: string;
  data: T;
  opts: JobsOptions & { jobId: string };
  /** Due now by our clock although its job may still wait on a delay (a grace period cut short): that job runs now. */
  runNow?: boolean;
}

/**
 * One kind of work whose truth is a row in Postgres, and whose job in Redis is
 * only the way it gets run: a pending delivery, a running rotation, a due
 * retirement, a pending secret destruction. The job sweep (JobSweeper) reads
 * the rows that say work is due and adds the job of each one that has none.
 */
export interface DueWork {
  /** Names it in logs and in its sweep's advisory lock. */
  readonly name: string;
  /** Rows due by `now` after `after`, in (at, id) order, at most `limit`, read through an index; each with its job. */
  duePage(em: EntityManager, now: Date, after: DueCursor | null, limit: number): Promise<Array<{ cursor: DueCursor; job: DueJob }>>;
}
