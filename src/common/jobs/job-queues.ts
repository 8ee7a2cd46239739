import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Job, Processor, Queue, Worker, WorkerOptions } from 'bullmq';
import type IORedis from 'ioredis';
import { AppConfig } from '../../config/app-config';
import { jobLockOptions } from './job-locks';
import { chunks } from '../collections/chunks';
import { createRedis } from './redis';

/** Jobs one bulk add carries at most. */
const ADD_CHUNK = 500;

/**
 * Queues and workers on one Redis, under the configured key prefix (each test
 * gets its own). Producers ask for a queue; processors register a worker, which
 * only runs in a process with the `worker` role.
 */
@Injectable()
export class JobQueues implements OnApplicationShutdown {
  private readonly logger = new Logger(JobQueues.name);
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  private readonly workerConnections: IORedis[] = [];
  private connection: IORedis | null = null;

  constructor(private readonly config: AppConfig) {}

  get prefix(): string {
    return this.config.redis.prefix;
  }

  get runsWorkers(): boolean {
    return this.config.roles.includes('worker');
  }

  /** The shared non-blocking connection (queues, health checks). */
  redis(): IORedis {
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
    { lockMs, ...options }: Omit<WorkerOptions, 'connection' | 'prefix' | keyof ReturnType<typeof jobLockOptions>> & { lockMs?: number } = {},
  ): Worker<T> | null {
    if (!this.runsWorkers) return null;
    const connection = createRedis(this.config.redis.url);
    this.workerConnections.push(connection);
    const worker = new Worker<T>(name, processor, { ...options, ...jobLockOptions(this.config.jobs, lockMs), connection, prefix: this.prefix });
    worker.on('error', (error) => this.logger.warn({ queue: name, err: error.message }, 'worker error'));
    worker.on('failed', (job: Job<T> | undefined, error: Error) =>
      this.logger.warn({ queue: name, jobId: job?.id, attempts: job?.attemptsMade, err: error.message }, 'job failed'),
    );
    this.workers.push(worker as unknown as Worker);
    return worker;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled(this.workers.map((w) => w.close()));
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    const connections = [...this.workerConnections, ...(this.connection ? [this.connection] : [])];
    await Promise.allSettled(connections.map((c) => c.quit().catch(() => c.disconnect())));
  }
}
