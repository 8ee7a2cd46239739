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
 * KEYS[1] the key's hash; ARGV: limit, window ms, buckets, now (epoch ms),
 * and for a lease (RateLimiter.consumeLeased) the calls wanted (default 1),
 * and a sub-window and a count of calls to give back from it (a lease's
 * unused calls; default none), given back before anything is counted.
 * Returns { granted (0..wanted; 1|0 for one call), remaining, resetAt ms }:
 * resetAt is when the oldest counted sub-window leaves the window (one more
 * call fits then).
 */
const SLIDING_WINDOW_DECIDE_LUA = `
local function decide(key, limit, window, n, now, wanted, backBucket, back)
  local size = math.ceil(window / n)
  local current = math.floor(now / size)
  local first = current - n
  if back > 0 then
    local left = tonumber(redis.call('HGET', key, backBucket) or '0')
    if left <= back then
      redis.call('HDEL', key, backBucket)
    else
      redis.call('HINCRBY', key, backBucket, -back)
    end
  end
  local fields = redis.call('HGETALL', key)
  local used = 0
  local oldest = current
  for i = 1, #fields, 2 do
    local b = tonumber(fields[i])
    if b < first then
      redis.call('HDEL', key, fields[i])
    else
      used = used + tonumber(fields[i + 1])
      if b < oldest then oldest = b end
    end
  end
  if used >= limit then
    return 0, 0, (oldest + n + 1) * size
  end
  local granted = math.min(wanted, limit - used)
  redis.call('HINCRBY', key, current, granted)
  redis.call('PEXPIRE', key, window + size)
  return granted, limit - used - granted, (oldest + n + 1) * size
end
`;

/** One call's (or one lease's) decision, for the single key and the ARGV described above. */
const SLIDING_WINDOW_LUA = `${SLIDING_WINDOW_DECIDE_LUA}
local granted, remaining, resetAt = decide(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5] or '1'), ARGV[6], tonumber(ARGV[7] or '0'))
return {granted, remaining, resetAt}
`;

/**
 * SLIDING_WINDOW_LUA's decision for one call on each of several budgets, in one script run: the `consume`
 * calls of one event-loop turn (RateLimiter.flushBatch). Each key is decided and counted by the same `decide`
 * as the single-key script, one after another, and the whole run is atomic, so a budget named twice is
 * counted twice and the bound is the same as for calls sent one by one.
 *
 * KEYS: the budgets' hashes; ARGV[1] buckets, then per key: limit, window ms, now (epoch ms).
 * Returns { granted (1|0), remaining, resetAt ms } per key, flattened.
 */
const SLIDING_WINDOW_BATCH_LUA = `${SLIDING_WINDOW_DECIDE_LUA}
local n = tonumber(ARGV[1])
local out = {}
for k = 1, #KEYS do
  local granted, remaining, resetAt = decide(KEYS[k], tonumber(ARGV[3 * k - 1]), tonumber(ARGV[3 * k]), n, tonumber(ARGV[3 * k + 1]), 1, nil, 0)
  out[3 * k - 2] = granted
  out[3 * k - 1] = remaining
  out[3 * k] = resetAt
end
return out
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

/** What a leased call learns: whether it may go ahead, and when to retry if not. */
export type LeasedDecision = Pick<RateLimitDecision, 'allowed' | 'retryAfterSeconds'>;

/** A replica's lease on one budget: calls counted in Redis for one sub-window, not made yet. */
interface Lease {
  requests: number;
  perSeconds: number;
  /** The sub-window the calls were counted in: they may be made in it only. */
  bucket: number;
  available: number;
  /** Calls asked for in `bucket`, and in the sub-window before it (how many to lease at once). */
  demand: number;
  previousDemand: number;
  /** A previous sub-window's unused calls, given back to Redis with the next round trip. */
  giveBackBucket: number;
  giveBack: number;
  /** The round trip in flight, which calls arriving meanwhile wait for before asking again. */
  pending: Promise<unknown> | null;
}

/** Budgets a replica holds leases for at most; past it they are dropped (their calls stay counted: never an excess). */
const MAX_LEASES = 50_000;
/** A lease is at most this share of the limit (and one call at least): what one replica can keep from the others for a sub-window. */
const LEASE_SHARE_OF_LIMIT = 1 / (RATE_LIMIT_BUCKETS * 4);

/** `consume` calls sent in one script run at most. */
const MAX_BATCH = 256;

/** A `consume` call waiting for its event-loop turn's batch to be sent. */
interface BatchedCall {
  key: string;
  limit: RateLimit;
  now: number;
  resolve: (decision: RateLimitDecision) => void;
}

type SlidingWindowClient = TrackedRedis & {
  /** numberOfKeys, the keys, then ARGV (SLIDING_WINDOW_BATCH_LUA). */
  slidingWindowBatch(...args: Array<string | number>): Promise<number[]>;
  slidingWindow(
    key: string,
    limit: number,
    windowMs: number,
    buckets: number,
    now: number,
    ...lease: [wanted: number, giveBackBucket: number, giveBack: number] | []
  ): Promise<[number, number, number]>;
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
  private readonly leases = new Map<string, Lease>();
  /** The `consume` calls of this event-loop turn, sent together when it ends (flushBatch). */
  private batch: BatchedCall[] = [];

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
    // Loaded once here, so the first call's EVALSHA finds them (no NOSCRIPT round trip).
    await client.script('LOAD', SLIDING_WINDOW_LUA).catch(() => undefined);
    await client.script('LOAD', SLIDING_WINDOW_BATCH_LUA).catch(() => undefined);
  }

  /**
   * Counts one call against `budget` (a name unique per limited thing, e.g. a credential id) if it fits.
   * The calls of one event-loop turn go to Redis as one script run (SLIDING_WINDOW_BATCH_LUA), sent when
   * the turn's I/O callbacks are done (setImmediate): under load, one command, one write and one reply for
   * all of them instead of one each, each decided exactly as if sent alone. Never rejects.
   */
  consume(budget: string, limit: RateLimit): Promise<RateLimitDecision> {
    const now = this.clock.now().getTime();
    return new Promise((resolve) => {
      if (this.batch.length === 0) setImmediate(this.flushBatch);
      this.batch.push({ key: this.keyOf(budget), limit, now, resolve });
      // A script holds Redis while it runs: a turn with very many calls is sent in several.
      if (this.batch.length >= MAX_BATCH) this.flushBatch();
    });
  }

  /** Sends this turn's `consume` calls in one script run and answers each. */
  private readonly flushBatch = (): void => {
    const calls = this.batch;
    if (calls.length === 0) return;
    this.batch = [];
    const args: Array<string | number> = [calls.length];
    for (const call of calls) args.push(call.key);
    args.push(RATE_LIMIT_BUCKETS);
    for (const call of calls) args.push(call.limit.requests, call.limit.perSeconds * 1000, call.now);
    let sent: Promise<number[]>;
    try {
      sent = this.redis().slidingWindowBatch(...args);
    } catch (error) {
      sent = Promise.reject(error as Error);
    }
    sent.then(
      (out) => {
        this.failing = false;
        for (let i = 0; i < calls.length; i++) {
          const call = calls[i]!;
          const resetAt = out[3 * i + 2]!;
          call.resolve({
            allowed: out[3 * i] === 1,
            limit: call.limit.requests,
            remaining: out[3 * i + 1]!,
            resetAt,
            retryAfterSeconds: retryAfterSeconds(resetAt, call.now),
          });
        }
      },
      (error: Error) => {
        const allowed = this.unavailable(error);
        for (const call of calls) call.resolve({ allowed, limit: call.limit.requests, remaining: 0, resetAt: 0, retryAfterSeconds: 1 });
      },
    );
  };

  /**
   * Like `consume`, for a budget whose callers need only the decision (not `remaining`): the token
   * endpoint's. A replica counts calls in Redis ahead of time, a few at once (a lease), and makes them
   * from memory while the sub-window they were counted in lasts, so a busy client costs a round trip per
   * several calls instead of one per call. What Redis counts is never less than what was let through in
   * each sub-window, so no window ever admits more than `requests`, on any number of replicas (stricter
   * than the plus one per replica the contract allows). A lease is sized by the calls this replica saw in
   * the previous sub-window (half of them) or so far in this one, at most LEASE_SHARE_OF_LIMIT of the limit
   * and never more than the window has left, so a client that calls rarely or is near its limit leases
   * one call at a time, exactly as `consume` counts. Calls a lease did not use are given back with the
   * replica's next round trip for that budget; until then other replicas may see up to that many fewer
   * calls left (never more).
   */
  async consumeLeased(budget: string, limit: RateLimit): Promise<LeasedDecision> {
    const windowMs = limit.perSeconds * 1000;
    const size = Math.ceil(windowMs / RATE_LIMIT_BUCKETS);
    for (;;) {
      const now = this.clock.now().getTime();
      const lease = this.leaseOf(budget, limit, Math.floor(now / size));
      if (lease.available > 0) {
        lease.available--;
        lease.demand++;
        return { allowed: true, retryAfterSeconds: 1 };
      }
      // Another call of this replica is asking Redis for this budget: its lease may cover this call too
      // (one round trip per budget in flight at a time).
      if (lease.pending) {
        await lease.pending.catch(() => undefined);
        continue;
      }
      lease.demand++;
      const wanted = Math.max(
        1,
        Math.min(Math.max(Math.ceil(lease.previousDemand / 2), lease.demand), Math.floor(limit.requests * LEASE_SHARE_OF_LIMIT)),
      );
      const giveBack = lease.giveBack;
      lease.giveBack = 0;
      const asked = this.redis().slidingWindow(
        this.keyOf(budget),
        limit.requests,
        windowMs,
        RATE_LIMIT_BUCKETS,
        now,
        wanted,
        lease.giveBackBucket,
        giveBack,
      );
      lease.pending = asked;
      try {
        const [granted, , resetAt] = await asked;
        this.failing = false;
        // The calls granted count in the sub-window of `now`: usable while it lasts, given back after.
        if (granted > 1 && this.leases.get(budget) === lease) {
          if (lease.bucket === Math.floor(now / size)) lease.available += granted - 1;
          else if (lease.giveBack === 0) {
            lease.giveBackBucket = Math.floor(now / size);
            lease.giveBack = granted - 1;
          }
        }
        return { allowed: granted > 0, retryAfterSeconds: retryAfterSeconds(resetAt, now) };
      } catch (error) {
        return { allowed: this.unavailable(error as Error), retryAfterSeconds: 1 };
      } finally {
        if (lease.pending === asked) lease.pending = null;
      }
    }
  }

  private keyOf(budget: string): string {
    return `${this.config.redis.prefix}:ratelimit:${budget}`;
  }

  /** Redis did not answer: logged once until it answers again; whether the call goes ahead (RATE_LIMIT_ON_REDIS_ERROR). */
  private unavailable(error: Error): boolean {
    if (!this.failing) this.logger.warn(`rate limiter unavailable (${error.message}); calls ${this.onError()} uncounted`);
    this.failing = true;
    return this.config.enforcement.rateLimitOnRedisError === 'allow';
  }

  /** This replica's lease on `budget` for sub-window `bucket`; an earlier sub-window's unused calls become a give-back. */
  private leaseOf(budget: string, limit: RateLimit, bucket: number): Lease {
    let lease = this.leases.get(budget);
    if (lease && (lease.requests !== limit.requests || lease.perSeconds !== limit.perSeconds)) {
      // The limit changed: what was leased under the old one is given back, and counting starts again.
      const replaced: Lease = newLease(limit, bucket);
      if (lease.available > 0) {
        replaced.giveBackBucket = lease.bucket;
        replaced.giveBack = lease.available;
      }
      this.leases.set(budget, replaced);
      return replaced;
    }
    if (!lease) {
      if (this.leases.size >= MAX_LEASES) this.leases.clear();
      lease = newLease(limit, bucket);
      this.leases.set(budget, lease);
      return lease;
    }
    if (lease.bucket !== bucket) {
      if (lease.available > 0 && lease.giveBack === 0) {
        lease.giveBackBucket = lease.bucket;
        lease.giveBack = lease.available;
      }
      lease.previousDemand = lease.bucket === bucket - 1 ? lease.demand : 0;
      lease.bucket = bucket;
      lease.available = 0;
      lease.demand = 0;
    }
    return lease;
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
      // The lease calls (consumeLeased) of one event-loop turn go to Redis in one write; `consume` batches its own.
      enableAutoPipelining: true,
      autoPipeliningIgnoredCommands: ['slidingWindowBatch'],
    });
    client.defineCommand('slidingWindow', { numberOfKeys: 1, lua: SLIDING_WINDOW_LUA });
    // No numberOfKeys: each call passes its own (the batch's size) first.
    client.defineCommand('slidingWindowBatch', { lua: SLIDING_WINDOW_BATCH_LUA });
    this.client = client as SlidingWindowClient;
    return this.client;
  }
}

/** Whole seconds until `resetAt`, at least one. */
function retryAfterSeconds(resetAt: number, now: number): number {
  return Math.max(1, Math.ceil((resetAt - now) / 1000));
}

function newLease(limit: RateLimit, bucket: number): Lease {
  return {
    requests: limit.requests,
    perSeconds: limit.perSeconds,
    bucket,
    available: 0,
    demand: 0,
    previousDemand: 0,
    giveBackBucket: 0,
    giveBack: 0,
    pending: null,
  };
}
