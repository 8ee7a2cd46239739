import IORedis from 'ioredis';

import { TEST_REDIS_URL } from './env';

/** Removes every key under a prefix: what a test file or a benchmark run leaves in the shared Redis. */
export async function deleteRedisPrefix(prefix: string, url: string = TEST_REDIS_URL): Promise<void> {
  const redis = new IORedis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
