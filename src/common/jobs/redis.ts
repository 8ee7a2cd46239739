import { Logger } from '@nestjs/common';
import IORedis, { type RedisOptions } from 'ioredis';

const logger = new Logger('Redis');

/**
 * An ioredis client that remembers the duplicates made of it. A BullMQ worker
 * given a connection makes its blocking connection with `duplicate()`; the
 * shutdown sequence needs every client to drop them all when Redis is gone.
 */
export class TrackedRedis extends IORedis {
  readonly duplicates: IORedis[] = [];

  override duplicate(override?: Partial<RedisOptions>): IORedis {
    const copy = super.duplicate(override);
    this.duplicates.push(copy);
    return copy;
  }

  /** Drops this client and its duplicates at once: commands still queued fail, nothing waits for Redis. */
  disconnectAll(): void {
    for (const client of [this, ...this.duplicates]) dropClient(client);
  }

  /**
   * Closes this client cleanly (QUIT) when Redis answers. When it does not,
   * a QUIT would wait behind the queued commands forever (commands wait for
   * Redis to come back: `maxRetriesPerRequest: null`), so the client is
   * dropped instead. Resolves with whether it closed cleanly.
   */
  async close(): Promise<boolean> {
    if (this.status === 'end') return true;
    if (this.status !== 'ready') {
      this.disconnectAll();
      return false;
    }
    try {
      await this.quit();
    } catch {
      // Redis went away during the QUIT: the client is closed either way.
    }
    for (const copy of this.duplicates) dropClient(copy);
    return true;
  }
}

/** Disconnects a client unless it is closed already (ioredis would then leave a 2 s timer for a socket that is gone). */
function dropClient(client: IORedis): void {
  if (client.status !== 'end') client.disconnect();
}

/**
 * A Redis connection for BullMQ. `maxRetriesPerRequest: null` is what BullMQ
 * requires of connections its workers block on (their duplicates inherit it),
 * and it makes an enqueue during an outage wait for Redis to come back rather
 * than fail; shutdown does not wait for those (TrackedRedis.close).
 * Connection errors are logged once per outage here; BullMQ's queue and
 * worker `error` events say the rest.
 */
export function createRedis(url: string, options: RedisOptions = {}): TrackedRedis {
  const client = new TrackedRedis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false, ...options });
  let reported = false;
  client.on('ready', () => (reported = false));
  client.on('error', (error: NodeJS.ErrnoException) => {
    if (reported) return;
    reported = true;
    logger.warn({ err: error.code ?? error.message }, 'redis unreachable; retrying');
  });
  return client;
}
