import { randomUUID } from 'node:crypto';

import { Worker } from 'bullmq';

import type { DueCursor, DueJob, DueWork } from '../../src/common/jobs/due-work';
import { JobQueues } from '../../src/common/jobs/job-queues';
import { JobSweeper } from '../../src/common/jobs/job-sweeper';
import { createRedis } from '../../src/common/jobs/redis';
import { startTestApp, TestApp } from '../support/test-app';

const QUEUE = 'sweep-test';

/** Due work read from an array, in (at, id) order, as a repository would read its index. */
class ArrayWork implements DueWork {
  readonly name: string;
  constructor(
    readonly rows: Array<{ at: Date; id: string; runNow?: boolean }>,
    name = `work-${randomUUID()}`,
  ) {
    this.name = name;
    rows.sort((x, y) => x.at.getTime() - y.at.getTime() || x.id.localeCompare(y.id));
  }

  async duePage(_em: unknown, now: Date, after: DueCursor | null, limit: number) {
    const key = (r: DueCursor) => `${r.at.toISOString()}|${r.id}`;
    return this.rows
      .filter((r) => r.at <= now && (!after || key(r) > key(after)))
      .slice(0, limit)
      .map((r) => ({ cursor: { at: r.at, id: r.id }, job: jobOf(r.id, r.runNow) }));
  }
}

function jobOf(id: string, runNow = false): DueJob {
  return {
    queue: QUEUE,
    name: 'noop',
    data: { id },
    opts: { jobId: `noop:test:${id}`, removeOnComplete: false, removeOnFail: false },
    runNow,
  };
}

/**
 * The job sweep on real Redis: which jobs it adds, replaces, promotes or
 * leaves alone, and how a round bounded to 10 000 rows carries on where the
 * last one stopped.
 */
describe('the job sweep', () => {
  let t: TestApp;
  let sweeper: JobSweeper;

  beforeAll(async () => {
    t = await startTestApp({ roles: 'api' });
    sweeper = t.app.get(JobSweeper);
  });
  afterAll(() => t?.close());

  const queue = () => t.app.get(JobQueues).queue(QUEUE);

  it('adds missing jobs, replaces finished ones, runs now the delayed ones due now, and leaves live ones alone', async () => {
    const ids = {
      missing: randomUUID(),
      completed: randomUUID(),
      failed: randomUUID(),
      waiting: randomUUID(),
      dueNow: randomUUID(),
      delayed: randomUUID(),
    };
    // Finished jobs, taken and finished by hand the way a worker would.
    const connection = createRedis(t.env.REDIS_URL!);
    const worker = new Worker(QUEUE, null, { connection, prefix: t.redisPrefix });
    try {
      for (const [id, outcome] of [
        [ids.completed, 'completed'],
        [ids.failed, 'failed'],
      ] as const) {
        await queue().add('noop', { id }, jobOf(id).opts);
        const job = (await worker.getNextJob('token'))!;
        expect(job.id).toBe(`noop:test:${id}`);
        if (outcome === 'completed') await job.moveToCompleted('done', 'token', false);
        else await job.moveToFailed(new Error('gave up'), 'token', false);
      }
    } finally {
      await worker.close();
      await connection.quit();
    }
    await queue().add('noop', { id: ids.waiting }, jobOf(ids.waiting).opts);
    await queue().add('noop', { id: ids.dueNow }, { ...jobOf(ids.dueNow).opts, delay: 3_600_000 });
    await queue().add('noop', { id: ids.delayed }, { ...jobOf(ids.delayed).opts, delay: 3_600_000 });
    const waitingBefore = (await queue().getJob(`noop:test:${ids.waiting}`))!.timestamp;
    expect(await Promise.all(Object.values(ids).map((id) => queue().getJobState(`noop:test:${id}`)))).toEqual([
      'unknown',
      'completed',
      'failed',
      'waiting',
      'delayed',
      'delayed',
    ]);

    const now = t.clock.now();
    const work = new ArrayWork(Object.entries(ids).map(([kind, id]) => ({ at: now, id, runNow: kind === 'dueNow' })));
    expect(await sweeper.sweep(work)).toEqual({ ran: true, checked: 6, requeued: 3, promoted: 1 });

    const states = Object.fromEntries(
      await Promise.all(Object.entries(ids).map(async ([kind, id]) => [kind, await queue().getJobState(`noop:test:${id}`)])),
    );
    expect(states).toEqual({
      missing: 'waiting',
      completed: 'waiting',
      failed: 'waiting',
      waiting: 'waiting',
      dueNow: 'waiting',
      delayed: 'delayed',
    });
    expect((await queue().getJob(`noop:test:${ids.waiting}`))!.timestamp).toBe(waitingBefore);
    // Nothing left to do.
    expect(await sweeper.sweep(work)).toEqual({ ran: true, checked: 6, requeued: 0, promoted: 0 });
  });

  it('reads rows due by its clock only', async () => {
    const now = t.clock.now();
    const work = new ArrayWork([
      { at: new Date(now.getTime() - 1000), id: randomUUID() },
      { at: new Date(now.getTime() + 60_000), id: randomUUID() },
    ]);
    expect(await sweeper.sweep(work)).toMatchObject({ checked: 1, requeued: 1 });
  });

  it('checks at most 10 000 rows of a kind per round and carries on after them in the next', async () => {
    const base = t.clock.now().getTime() - 100_000;
    const work = new ArrayWork(Array.from({ length: 10_250 }, (_, i) => ({ at: new Date(base + i), id: randomUUID() })));
    expect(await sweeper.sweep(work)).toEqual({ ran: true, checked: 10_000, requeued: 10_000, promoted: 0 });
    expect(await sweeper.sweep(work)).toEqual({ ran: true, checked: 250, requeued: 250, promoted: 0 });
    // Round done: the next starts from the beginning, and finds every job in place.
    expect(await sweeper.sweep(work)).toEqual({ ran: true, checked: 10_000, requeued: 0, promoted: 0 });
    expect(await sweeper.sweep(work)).toEqual({ ran: true, checked: 250, requeued: 0, promoted: 0 });
    expect(await queue().getWaitingCount()).toBeGreaterThanOrEqual(10_250);
  });
});
