import type { WorkerOptions } from 'bullmq';

import type { AppConfig } from '../../config/app-config';

/**
 * A job a worker process has taken is held by a lock in Redis (`<job>:lock`,
 * holding the worker's token), set when the job moves to `active`. What
 * follows is how long a dead worker's jobs stay held, and what it costs.
 *
 * Holding. The worker renews the locks of every job it runs in one script
 * call (`extendLocks`) on a timer of L/4 (BullMQ ticks at half of
 * `lockRenewTime`, which is L/2), so each lock is renewed every L/4 to L/2 and
 * only lapses when its process is dead or its event loop stood still for at
 * least L/2 (2.5 s with the default L = JOB_LOCK_MS = 5 s). While the lock
 * lives, no other worker takes the job: a live worker is never doubled,
 * however long its job runs.
 *
 * Taking back. Every S (JOB_STALLED_CHECK_MS, 1 s; never more than L) each
 * worker runs BullMQ's stalled check; a key that expires after S lets only one
 * of them do the work per S per queue. The check moves back to `wait` every
 * job it found active at its previous run that has no lock now, then notes the
 * jobs active now for the next run (a renewal takes a job off that list). A
 * job moved back is taken at once by any worker (the move wakes them). So a
 * dead worker's job is handed on at most max(L, 2S) + S after the death: its
 * lock lapses at most L after the death, it was noted at most 2S after its
 * last renewal (S, or 2S when the dead worker was the one checking), and the
 * next check after both takes it back: 6 s with the defaults, within the 10 s
 * promised, with room for timers that run late on a loaded machine. A
 * restarted worker checks as soon as it starts and every S after, so it takes
 * back a dead worker's jobs at most S after its start once their locks
 * lapsed, and at most L + S (6 s) after its start in any case.
 *
 * A process whose event loop froze past its locks and then carries on would
 * run a job beside the worker that took it back; Postgres makes that second
 * run harmless (each kind of work records its outcome with an update
 * conditional on the state it leaves, and its outside calls are idempotent).
 *
 * BullMQ counts each such hand-back; past MAX_STALLED_COUNT the job fails
 * instead (its row in Postgres still says the work is due, so the job sweep
 * enqueues it again): a job that kills every worker that runs it does not
 * kill workers in a tight loop. Its default, 1, would fail a job after its
 * second crash.
 *
 * Cost, per worker (one per queue per process: delivery, secret destruction,
 * one rotation queue per configured store), in Redis calls per second:
 * - lock renewal: 4/L = 0.8 script calls/s while the worker holds any job
 *   (none when idle), each doing 3 commands per job it holds (GET, SET XX PX,
 *   SREM): up to 2.4 commands/s per active job. With the former 30 s lock:
 *   0.13 calls/s and 0.4 commands/s per job.
 * - stalled check: 1/S = 1 script call/s per worker, busy or idle; the one
 *   that does the work per S and queue reads the stalled set and the active
 *   list and adds every active job to the set (about 1.5 commands per active
 *   job per check: 1.5/s); the others return after one EXISTS. Formerly one
 *   call per 30 s.
 * A process with five workers thus makes 5 calls/s idle and at most 9 calls/s
 * busy, plus about 4 commands/s per job it holds: some 400 commands/s for a
 * hundred jobs in flight, a small fraction of what one Redis core serves (well
 * over 100 000 simple commands per second).
 */
export const MAX_STALLED_COUNT = 10;

/** The lock and stalled-check settings of every worker; `lockMs` overrides JOB_LOCK_MS for one queue. */
export function jobLockOptions(
  jobs: AppConfig['jobs'],
  lockMs: number = jobs.lockMs,
): Pick<WorkerOptions, 'lockDuration' | 'lockRenewTime' | 'stalledInterval' | 'maxStalledCount'> {
  return {
    lockDuration: lockMs,
    lockRenewTime: lockMs / 2,
    stalledInterval: Math.min(jobs.stalledCheckMs, lockMs),
    maxStalledCount: MAX_STALLED_COUNT,
  };
}
