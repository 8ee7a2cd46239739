import { randomUUID } from 'node:crypto';

import { RateLimiter } from '../../src/common/rate-limit/rate-limiter';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * The verify/authz budget (RateLimiter.consume, src/common/rate-limit/rate-limiter.ts): the calls of one
 * event-loop turn go to Redis as one command, and each is decided exactly as if it had been sent alone. Two
 * limiters on one Redis prefix stand for two replicas.
 */
describe('rate limit: the calls of a turn in one command', () => {
  let t: TestApp;
  let replicas: RateLimiter[];

  beforeAll(async () => {
    t = await startTestApp();
    const other = new RateLimiter(t.config, t.clock);
    await other.onApplicationBootstrap();
    replicas = [t.app.get(RateLimiter), other];
  });
  afterAll(async () => {
    await replicas[1].shutdownSteps()[0].close();
    await t.close();
  });

  /** The Redis commands a limiter sends while `work` runs. */
  async function commandsSent<T>(limiter: RateLimiter, work: () => Promise<T>): Promise<{ result: T; commands: string[] }> {
    type Client = { sendCommand(command: { name: string }, ...rest: unknown[]): unknown };
    const client = (limiter as unknown as { redis(): Client }).redis();
    const commands: string[] = [];
    const send = client.sendCommand.bind(client);
    const spy = jest.spyOn(client, 'sendCommand').mockImplementation((command, ...rest) => {
      commands.push(command.name);
      return send(command, ...rest);
    });
    try {
      return { result: await work(), commands };
    } finally {
      spy.mockRestore();
    }
  }

  it('sends one command for the calls of one turn and decides each as if alone: exactly the limit of each budget', async () => {
    const [a] = replicas;
    const tight = { budget: `test:${randomUUID()}`, limit: { requests: 10, perSeconds: 60 }, calls: 15 };
    const loose = { budget: `test:${randomUUID()}`, limit: { requests: 5, perSeconds: 10 }, calls: 8 };
    const { result, commands } = await commandsSent(a, () =>
      Promise.all([tight, loose].map((b) => Promise.all(Array.from({ length: b.calls }, () => a.consume(b.budget, b.limit))))),
    );
    expect(commands).toEqual(['evalsha']);
    const [forTight, forLoose] = result;
    // In the order called: the first `requests` allowed, counting down what is left; the rest refused.
    expect(forTight.map((d) => d.allowed)).toEqual([...Array(10).fill(true), ...Array(5).fill(false)]);
    expect(forTight.slice(0, 10).map((d) => d.remaining)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(forLoose.map((d) => d.allowed)).toEqual([...Array(5).fill(true), ...Array(3).fill(false)]);
    for (const refused of [...forTight.slice(10), ...forLoose.slice(5)]) {
      expect(refused.remaining).toBe(0);
      expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    }
    expect(forLoose[7].retryAfterSeconds).toBeLessThanOrEqual(11);
  });

  it('two replicas sending their turns at once allow exactly the limit between them', async () => {
    const budget = `test:${randomUUID()}`;
    const limit = { requests: 37, perSeconds: 60 };
    const decisions = await Promise.all(replicas.flatMap((limiter) => Array.from({ length: 40 }, () => limiter.consume(budget, limit))));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(37);
    // And the next turn of either is refused.
    expect((await replicas[1].consume(budget, limit)).allowed).toBe(false);
  });
});
