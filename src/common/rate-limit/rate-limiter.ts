import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';

import { AppConfig } from '../../config/app-config';
import { Clock } from '../clock/clock';
import { createRedis, TrackedRedis } from '../jobs/redis';
import { ShutdownParticipant, ShutdownPhase, ShutdownStep } from '../shutdown/shutdown-step';

/** Sub-windows a window is counted in. */
export const RATE_LIMIT_BUCKETS = 10;

/**
 * A sliding window counted in RATE_LIMIT_BUCKETS sub-windows, in one Redis
 * hash per limited key, decided and counted atomically in one round trip.
 * The calls counted are those of the current sub-window and the RATE_LIMIT_BUCKETS
 * before it: a span of at least the whole window, so no window of `perSeconds`
 * ever admits more than `requests` calls, on any number of replicas (the
 * window slides in steps of a tenth, so a client regains capacity up to a
 * tenth of the window late). Sub-windows later than the caller's current one
 * (another replica's clock a little ahead) are counted too. Refused calls are
 * not counted.
 *
 * KEYS[1] the key's hash; ARGV: limit, window ms, buckets, now (epoch ms).
 * Returns { allowed (1|0), remaining, resetAt ms }: resetAt is when the
 * oldest counted sub-window leaves the window (one more call fits then).
 */
const SLIDING_WINDOW_LUA = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local size = math.ceil(window / n)
local current = math.floor(now / size)
local first = current - n
local fields = redis.call('HGETALL', KEYS[1])
local used = 0
local oldest = current
for i = 1, #fields, 2 do
  local b = tonumber(fields[i])
  if b < first then
    redis.call('HDEL', KEYS[1], fields[i])
  else
    used = used + tonumber(fields[i + 1])
    if b < oldest then oldest = b end
  end
end
if used >= limit then
  return {0, 0, (oldest + n + 1) * size}
end
redis.call('HINCRBY', KEYS[1], current, 1)
redis.call('PEXPIRE', KEYS[1], window + size)
return {1, limit - used - 1, (oldest + n + 1) * size}
`;

export interface RateLimit {
  requests: number;
  perSeconds: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Epoch ms: when one more call fits. */
  resetAt: number;
  /** Whole seconds until `resetAt` from the decision's instant, at least 1 (Retry-After). */
  retryAfterSeconds: number;
}

type SlidingWindowClient = TrackedRedis & {
  slidingWindow(key: string, limit: number, windowMs: number, buckets: number, now: number): Promise<[number, number, number]>;
};

/**
 * The one rate limiter of the service: `requests` per `perSeconds` for a named
 * budget (a credential's calls at /v1/verify and /v1/authz, its requests at
 * /oauth/token), shared by every replica, counted in Redis. Time is the
 * injected Clock (tests move it); replicas' clocks need only agree to well
 * within a sub-window (NTP does). When Redis does not answer within
 * RATE_LIMIT_TIMEOUT_MS the call is let through uncounted
 * (RATE_LIMIT_ON_REDIS_ERROR=allow, the default: a quota outage should not
 * become an authentication outage) or refused (=deny); either way it is
 * logged once per outage.
 */
@Injectable()
export class RateLimiter implements OnApplicationBootstrap, ShutdownParticipant {
  private readonly logger = new Logger('RateLimiter');
  private client: SlidingWindowClient | null = null;
  private failing = false;

  constructor(
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** Connects before the first call: commands are never queued while the connection is not ready. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.roles.includes('api')) return;
    const client = this.redis();
    if (client.status !== 'ready') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5_000);
        client.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    // Loaded once here, so the first call's EVALSHA finds it (no NOSCRIPT round trip).
    await client.script('LOAD', SLIDING_WINDOW_LUA).catch(() => undefined);
  }

  /** Counts one call against `budget` (a name unique per limited thing, e.g. `verify:<credential id>`) if it fits. */
  async consume(budget: string, limit: RateLimit): Promise<RateLimitDecision> {
    const now = this.clock.now().getTime();
    try {
      const [allowed, remaining, resetAt] = await this.redis().slidingWindow(
        `${this.config.redis.prefix}:ratelimit:${budget}`,
        limit.requests,
        limit.perSeconds * 1000,
        RATE_LIMIT_BUCKETS,
        now,
      );
      this.failing = false;
      return {
        allowed: allowed === 1,
        limit: limit.requests,
        remaining,
        resetAt,
        retryAfterSeconds: Math.max(1, Math.ceil((resetAt - now) / 1000)),
      };
    } catch (error) {
      if (!this.failing) this.logger.warn(`rate limiter unavailable (${(error as Error).message}); calls ${this.onError()} uncounted`);
      this.failing = true;
      return {
        allowed: this.config.enforcement.rateLimitOnRedisError === 'allow',
        limit: limit.requests,
        remaining: 0,
        resetAt: 0,
        retryAfterSeconds: 1,
      };
    }
  }

  shutdownSteps(): ShutdownStep[] {
    return [
      {
        phase: ShutdownPhase.Connections,
        name: 'rate limit redis',
        count: 1,
        close: async () => {
          const client = this.client;
          this.client = null;
          if (client) return (await client.close()) ? 0 : 1;
        },
        force: () => this.client?.disconnectAll(),
      },
    ];
  }

  private onError(): string {
    return this.config.enforcement.rateLimitOnRedisError === 'allow' ? 'allowed' : 'refused';
  }

  private redis(): SlidingWindowClient {
    if (this.client) return this.client;
    // Fail fast: a call never waits on a Redis that is down.
    const client = createRedis(this.config.redis.url, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      commandTimeout: this.config.enforcement.rateLimitTimeoutMs,
      // The calls of one event-loop turn go to Redis in one write (under load, one syscall instead of dozens).
      enableAutoPipelining: true,
    });
    client.defineCommand('slidingWindow', { numberOfKeys: 1, lua: SLIDING_WINDOW_LUA });
    this.client = client as SlidingWindowClient;
    return this.client;
  }
}
