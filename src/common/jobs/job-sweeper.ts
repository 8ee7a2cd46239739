import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { Clock } from '../clock/clock';
import { chunks } from '../collections/chunks';
import { tryAdvisoryXactLock } from '../db/advisory-lock';
import type { DueCursor, DueJob, DueWork } from './due-work';
import { JobQueues } from './job-queues';

/** Rows one page carries, and pages one round reads at most (a bigger backlog is covered over the next rounds). */
const PAGE = 500;
const MAX_PAGES = 20;

export interface JobSweepResult {
  /** False when another replica held this kind's sweep lock. */
  ran: boolean;
  /** Rows due that were checked. */
  checked: number;
  /** Jobs added because they were missing. */
  requeued: number;
  /** Delayed jobs run now because their row is due now. */
  promoted: number;
}

/** What a check found a job to need. */
export interface EnsureResult {
  added: number;
  promoted: number;
}

/**
 * The one job sweep: for each kind of work registered with it, reads the rows
 * in Postgres that say work is due (through an index, in pages) and makes
 * sure each has its job in Redis. A job that is missing (lost in a crash
 * between a commit and its enqueue, or with a Redis flush) is added; one that
 * finished while its row still says due is removed and added again; a live
 * one (waiting, delayed, active) is left alone, since its worker's lock says
 * who runs it (job-locks.ts covers the jobs of a dead worker).
 *
 * The check costs three O(1) Redis commands per row (the job's hash, and
 * whether it sits in the completed or failed set), pipelined 500 at a time;
 * BullMQ's getJobState would scan the wait and active lists for every row
 * (LPOS), which on a deep backlog is quadratic. One round reads at most
 * 10 000 rows of a kind and the next round carries on after the last one, so
 * a huge backlog costs a bounded amount per round and is covered in turn.
 *
 * Several replicas take turns through a Postgres advisory lock per kind of
 * work; if two did check at once, a job id added twice is added once.
 */
@Injectable()
export class JobSweeper {
  private readonly logger = new Logger(JobSweeper.name);
  private readonly works = new Map<string, DueWork>();
  /** Where the last round of each kind stopped when it hit its page limit. */
  private readonly resumeAfter = new Map<string, DueCursor>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly jobs: JobQueues,
    private readonly clock: Clock,
  ) {}

  /** Modules register their kinds of work when they start. */
  register(work: DueWork): void {
    this.works.set(work.name, work);
  }

  /** One round of every registered kind; a kind that fails is logged and left to the next round, the others go on. */
  async sweepAll(): Promise<Record<string, number>> {
    const totals: Record<string, number> = {};
    if (!this.redisConnected('every kind')) return totals;
    for (const work of this.works.values()) {
      try {
        const result = await this.sweepUnchecked(work);
        totals[`${work.name}Requeued`] = result.requeued;
        totals[`${work.name}Promoted`] = result.promoted;
      } catch (error) {
        this.logger.warn({ work: work.name, err: (error as Error).message }, 'job sweep failed; the next round retries');
      }
    }
    return totals;
  }

  /**
   * One round of one kind, under its advisory lock. Skipped while Redis is
   * not connected: its commands would wait for Redis to come back, with a
   * transaction open and the round holding up a shutdown.
   */
  async sweep(work: DueWork): Promise<JobSweepResult> {
    if (!this.redisConnected(work.name)) return { ran: false, checked: 0, requeued: 0, promoted: 0 };
    return this.sweepUnchecked(work);
  }

  /** Resolves true once Redis is connected (at once if it is), false if its connection ends first. */
  whenRedisReady(): Promise<boolean> {
    const redis = this.jobs.redis();
    if (redis.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const ready = () => {
        redis.off('end', end);
        resolve(true);
      };
      const end = () => {
        redis.off('ready', ready);
        resolve(false);
      };
      redis.once('ready', ready);
      redis.once('end', end);
    });
  }

  private sweepUnchecked(work: DueWork): Promise<JobSweepResult> {
    return this.dataSource.transaction(async (em) => {
      if (!(await tryAdvisoryXactLock(em, `agent-credentials:job-sweep:${work.name}`)))
        return { ran: false, checked: 0, requeued: 0, promoted: 0 };
      const now = this.clock.now();
      const result: JobSweepResult = { ran: true, checked: 0, requeued: 0, promoted: 0 };
      let after = this.resumeAfter.get(work.name) ?? null;
      this.resumeAfter.delete(work.name);
      for (let page = 0; page < MAX_PAGES; page++) {
        const rows = await work.duePage(em, now, after, PAGE);
        result.checked += rows.length;
        const ensured = await this.ensure(rows.map((r) => r.job));
        result.requeued += ensured.added;
        result.promoted += ensured.promoted;
        if (rows.length < PAGE) return result;
        after = rows[rows.length - 1].cursor;
      }
      this.resumeAfter.set(work.name, after!);
      return result;
    });
  }

  private redisConnected(what: string): boolean {
    if (this.jobs.redis().status === 'ready') return true;
    this.logger.warn({ work: what }, 'Redis is not connected; the job sweep skips this round');
    return false;
  }

  /** Adds each of these jobs that Redis lacks (or holds only as finished); runs now the delayed ones marked `runNow`. */
  async ensure(jobs: DueJob[]): Promise<EnsureResult> {
    const result: EnsureResult = { added: 0, promoted: 0 };
    const byQueue = new Map<string, DueJob[]>();
    for (const job of jobs) {
      const group = byQueue.get(job.queue);
      if (group) group.push(job);
      else byQueue.set(job.queue, [job]);
    }
    for (const [name, queued] of byQueue) {
      const queue = this.jobs.queue(name);
      const missing: DueJob[] = [];
      for (const chunk of chunks(queued, PAGE)) {
        const pipeline = this.jobs.redis().pipeline();
        for (const job of chunk) {
          const id = job.opts.jobId;
          pipeline.exists(queue.toKey(id)).zscore(queue.keys.completed, id).zscore(queue.keys.failed, id).zscore(queue.keys.delayed, id);
        }
        const replies = (await pipeline.exec()) ?? [];
        for (const [i, job] of chunk.entries()) {
          const [exists, completed, failed, delayed] = replies.slice(i * 4, i * 4 + 4).map(([error, value]) => {
            if (error) throw error;
            return value;
          });
          if (exists === 0) {
            missing.push(job);
          } else if (completed !== null || failed !== null) {
            await queue.remove(job.opts.jobId);
            missing.push(job);
          } else if (delayed !== null && job.runNow) {
            await (await queue.getJob(job.opts.jobId))?.promote().catch(() => undefined); // it may have just started
            result.promoted++;
          }
        }
      }
      await this.jobs.addBulk(
        name,
        missing.map((job) => ({ name: job.name, data: job.data, opts: job.opts })),
      );
      result.added += missing.length;
    }
    return result;
  }
}
