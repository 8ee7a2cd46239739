import { Injectable, Logger } from '@nestjs/common';
import { Job, Processor, Queue, Worker, WorkerOptions } from 'bullmq';

import { AppConfig } from '../../config/app-config';
import { chunks } from '../collections/chunks';
import { ShutdownParticipant, ShutdownPhase, ShutdownStep } from '../shutdown/shutdown-step';
import { jobLockOptions } from './job-locks';
import { createRedis, TrackedRedis } from './redis';

/** Jobs one bulk add carries at most. */
const ADD_CHUNK = 500;

/**
 * Queues and workers on one Redis, under the configured key prefix (each test
 * gets its own). Producers ask for a queue; processors register a worker, which
 * only runs in a process with the `worker` role.
 */
@Injectable()
export class JobQueues implements ShutdownParticipant {
  private readonly logger = new Logger(JobQueues.name);
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  private readonly workerConnections: TrackedRedis[] = [];
  private connection: TrackedRedis | null = null;
  /** Set when shutdown drops the workers' jobs: outcomes that arrive later are not reported (see `outcomeKept`). */
  private jobsAbandoned = false;

  constructor(private readonly config: AppConfig) {}

  get prefix(): string {
    return this.config.redis.prefix;
  }

  get runsWorkers(): boolean {
    return this.config.roles.includes('worker');
  }

  /** The shared non-blocking connection (queues, health checks). */
  redis(): TrackedRedis {
    this.connection ??= createRedis(this.config.redis.url);
    return this.connection;
  }

  queue<T = unknown>(name: string): Queue<T> {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.redis(), prefix: this.prefix });
      queue.on('error', (error) => this.logger.warn({ queue: name, err: error.message }, 'queue error'));
      this.queues.set(name, queue);
    }
    return queue as unknown as Queue<T>;
  }

  /**
   * Adds jobs a few hundred at a time: building a bulk add is synchronous work,
   * so a hundred thousand at once (a campaign's expiry revokes that many) would
   * hold the event loop for seconds; between chunks, requests are served.
   */
  async addBulk<T>(name: string, jobs: Parameters<Queue<T>['addBulk']>[0]): Promise<void> {
    for (const chunk of chunks(jobs, ADD_CHUNK)) await this.queue<T>(name).addBulk(chunk);
  }

  /**
   * Starts a worker for a queue if this process runs workers; returns null otherwise.
   * Each worker gets its own blocking connection, and the lock and stalled-check
   * settings that hand a dead worker's jobs to a live one within seconds
   * (job-locks.ts); `lockMs` overrides JOB_LOCK_MS for this queue.
   */
  startWorker<T>(
    name: string,
    processor: Processor<T>,
    {
      lockMs,
      ...options
    }: Omit<WorkerOptions, 'connection' | 'prefix' | keyof ReturnType<typeof jobLockOptions>> & { lockMs?: number } = {},
  ): Worker<T> | null {
    if (!this.runsWorkers) return null;
    const connection = createRedis(this.config.redis.url);
    this.workerConnections.push(connection);
    const worker = new Worker<T>(name, (job, token) => this.outcomeKept(processor(job, token)), {
      ...options,
      ...jobLockOptions(this.config.jobs, lockMs),
      connection,
      prefix: this.prefix,
    });
    worker.on('error', (error) => this.logger.warn({ queue: name, err: error.message }, 'worker error'));
    worker.on('failed', (job: Job<T> | undefined, error: Error) =>
      this.logger.warn({ queue: name, jobId: job?.id, attempts: job?.attemptsMade, err: error.message }, 'job failed'),
    );
    this.workers.push(worker as unknown as Worker);
    return worker;
  }

  /**
   * A job's outcome, unless shutdown has dropped the workers' jobs meanwhile:
   * then it never settles, so BullMQ never tries to report it. Reporting it
   * over a connection shutdown has dropped is what BullMQ (5.x) retries
   * without pause while its worker closes: a job that ended after the force
   * would hold the event loop for good, the shutdown's own exit included
   * (test/jobs/forced-shutdown.e2e-spec.ts). The job is not lost: its lock
   * lapses and it runs again elsewhere, as every dropped job does.
   */
  private async outcomeKept<R>(outcome: Promise<R>): Promise<R> {
    const settled = await outcome.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    if (this.jobsAbandoned) return new Promise<R>(() => undefined);
    if ('error' in settled) throw settled.error;
    return settled.value;
  }

  /**
   * Workers stop with the work phase: while Redis answers, each finishes the
   * jobs it holds (up to the phase's deadline); when it does not, nothing a
   * job does can be reported to Redis anyway, so workers drop their jobs at
   * once (the jobs' locks lapse and they run again elsewhere; every step is
   * idempotent and recorded in Postgres). Queues and connections close last,
   * after buffers are flushed; a connection to a Redis that does not answer
   * is dropped, not waited for.
   */
  shutdownSteps(): ShutdownStep[] {
    const steps: ShutdownStep[] = [];
    const workers = [...this.workers];
    if (workers.length) {
      steps.push({
        phase: ShutdownPhase.Work,
        name: 'redis workers',
        count: workers.length,
        close: async () => {
          const reachable = this.workerConnections.every((c) => c.status === 'ready');
          if (!reachable) this.jobsAbandoned = true;
          await Promise.allSettled(workers.map((w) => w.close(!reachable)));
          return reachable ? 0 : workers.length;
        },
        force: () => {
          this.jobsAbandoned = true;
          for (const w of workers) void w.close(true).catch(() => undefined);
          for (const c of this.workerConnections) c.disconnectAll();
        },
      });
    }
    // Read when the phase comes: a request or job still running may have opened the shared connection since.
    const connections = () => [...this.workerConnections, ...(this.connection ? [this.connection] : [])];
    steps.push({
      phase: ShutdownPhase.Connections,
      name: 'redis connections',
      get count() {
        return connections().length;
      },
      close: async () => {
        await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
        const closed = await Promise.all(connections().map((c) => c.close()));
        return closed.filter((clean) => !clean).length;
      },
      force: () => connections().forEach((c) => c.disconnectAll()),
    });
    return steps;
  }
}
