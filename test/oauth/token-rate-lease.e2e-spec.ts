import { randomUUID } from 'node:crypto';

import IORedis from 'ioredis';

import { RATE_LIMIT_BUCKETS, RateLimiter } from '../../src/common/rate-limit/rate-limiter';
import { TEST_REDIS_URL } from '../support/env';
import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';
import { oauthClient, tokenWithBasic } from './oauth-support';

/**
 * The token endpoint's budget is counted in leases (RateLimiter.consumeLeased, src/common/rate-limit/rate-limiter.ts):
 * a replica counts a few calls in Redis at once and makes them from memory within that sub-window. Two limiters on
 * one Redis prefix stand for two replicas.
 */
describe('Token rate limit leases', () => {
  const LIMIT = { requests: 400, perSeconds: 60 };
  const SUB_WINDOW_MS = (LIMIT.perSeconds * 1000) / RATE_LIMIT_BUCKETS;
  let t: TestApp;
  let replicas: RateLimiter[];
  let redis: IORedis;

  beforeAll(async () => {
    t = await startTestApp();
    const other = new RateLimiter(t.config, t.clock);
    await other.onApplicationBootstrap();
    replicas = [t.app.get(RateLimiter), other];
    redis = new IORedis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    redis.disconnect();
    await replicas[1].shutdownSteps()[0].close();
    await t.close();
  });

  /** What Redis counts for a budget, by sub-window. */
  async function counted(budget: string): Promise<Record<string, number>> {
    const fields = await redis.hgetall(`${t.config.redis.prefix}:ratelimit:${budget}`);
    return Object.fromEntries(Object.entries(fields).map(([bucket, n]) => [bucket, Number(n)]));
  }

  it('two replicas calling at once get exactly the limit in a window, never one more', async () => {
    const budget = `test:${randomUUID()}`;
    let allowed = 0;
    let refusedBy = new Set<number>();
    // Both replicas call, five at a time each, until each has been refused: every call a lease counted is made by then.
    for (let round = 0; refusedBy.size < 2 && round < 200; round++) {
      const decisions = await Promise.all(
        replicas.flatMap((limiter, i) =>
          Array.from({ length: 5 }, () => limiter.consumeLeased(budget, LIMIT).then((d) => ({ i, allowed: d.allowed }))),
        ),
      );
      allowed += decisions.filter((d) => d.allowed).length;
      refusedBy = new Set([...refusedBy, ...decisions.filter((d) => !d.allowed).map((d) => d.i)]);
    }
    expect(allowed).toBe(LIMIT.requests);
    expect(Object.values(await counted(budget)).reduce((a, b) => a + b, 0)).toBe(LIMIT.requests);
    const refused = await replicas[0].consumeLeased(budget, LIMIT);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(LIMIT.perSeconds);
  });

  it('calls a lease did not use in its sub-window are not made later, and are given back with the next round trip', async () => {
    const budget = `test:${randomUUID()}`;
    const [a, b] = replicas;
    const first = String(Math.floor(t.clock.now().getTime() / SUB_WINDOW_MS));
    for (let i = 0; i < 20; i++) expect((await a.consumeLeased(budget, LIMIT)).allowed).toBe(true);
    // A busy client leases ahead: Redis counts more than the 20 calls made, which the other replica cannot have.
    const leased = (await counted(budget))[first];
    expect(leased).toBeGreaterThan(20);
    t.clock.advance(SUB_WINDOW_MS);
    const second = String(Math.floor(t.clock.now().getTime() / SUB_WINDOW_MS));
    expect((await a.consumeLeased(budget, LIMIT)).allowed).toBe(true);
    const after = await counted(budget);
    // The first sub-window counts exactly the calls made in it; the one call made since counts in the second.
    expect(after[first]).toBe(20);
    expect(after[second]).toBeGreaterThanOrEqual(1);
    // The other replica may take everything not counted: the window's limit less what both made or leased now.
    let taken = 0;
    while ((await b.consumeLeased(budget, LIMIT)).allowed) taken++;
    expect(taken).toBe(LIMIT.requests - 20 - after[second]);
  });

  it('through /oauth/token: concurrent requests of one client get exactly its limit', async () => {
    const f = new Fixtures(t);
    const { agent, product } = await f.world();
    const client = await oauthClient(f, agent.id, [`${product.name}:read`], { rateLimit: { requests: 200, perSeconds: 60 } });
    const statuses: number[] = [];
    for (let round = 0; round < 13; round++) {
      const batch = await Promise.all(Array.from({ length: 20 }, () => tokenWithBasic(t, client)));
      statuses.push(...batch.map((r) => r.status));
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(200);
    expect(statuses.filter((s) => s === 429)).toHaveLength(60);
  });
});
