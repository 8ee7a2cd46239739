import { AlertBacklog } from './alert-backlog';
import type { AlertOccurrence, AlertType } from './alert-types';

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);
const sighting = (credentialId: string, ms: number, type: AlertType = 'dormant_reactivated', count = 1): AlertOccurrence => ({
  type,
  credentialId,
  agentId: 'agent',
  ownerId: 'owner',
  at: at(ms),
  count,
  evidence: { ms },
});
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('AlertBacklog', () => {
  it('holds at most its capacity: a put past it waits for a take, and nothing is dropped', async () => {
    const backlog = new AlertBacklog(3);
    const done: string[] = [];
    const puts = Array.from({ length: 10 }, (_, i) => backlog.put(sighting(`c${i}`, i)).then(() => done.push(`c${i}`)));
    await settle();
    expect(backlog.size).toBe(3);
    expect(done).toEqual(['c0', 'c1', 'c2']);
    expect(backlog.waitedForRoom).toBe(7);

    const taken: string[] = [];
    while (taken.length < 10) {
      const chunk = backlog.take(2);
      expect(chunk.length).toBeGreaterThan(0);
      taken.push(...chunk.map((o) => o.credentialId));
      await settle();
      expect(backlog.size).toBeLessThanOrEqual(3);
    }
    await Promise.all(puts);
    // Every sighting came out once, in the order put.
    expect(taken).toEqual(Array.from({ length: 10 }, (_, i) => `c${i}`));
    expect(backlog.highWater).toBe(3);
    expect(backlog.size).toBe(0);
  });

  it('coalesces a sighting into the waiting one of its type and credential, even when full', async () => {
    const backlog = new AlertBacklog(2);
    await backlog.put({ ...sighting('a', 100, 'auth_failures', 2), firstAt: at(50) });
    await backlog.put(sighting('a', 100, 'ip_not_allowed'));
    // Full, but a repeat of a waiting one takes no room: it resolves at once.
    await backlog.put({ ...sighting('a', 300, 'auth_failures', 3), firstAt: at(10) });
    await backlog.put(sighting('a', 200, 'auth_failures', 1));
    expect(backlog.size).toBe(2);
    expect(backlog.coalesced).toBe(2);
    expect(backlog.waitedForRoom).toBe(0);
    const [failures, ip] = backlog.take(10);
    expect(failures).toMatchObject({
      type: 'auth_failures',
      credentialId: 'a',
      count: 6,
      firstAt: at(10),
      at: at(300),
      // The latest sighting's evidence, as the alert's upsert would keep.
      evidence: { ms: 200 },
      coalesced: 3,
    });
    expect(ip).toMatchObject({ type: 'ip_not_allowed', count: 1, coalesced: 1 });
  });

  it('a put that waited for room coalesces if its type and credential came in meanwhile', async () => {
    const backlog = new AlertBacklog(1);
    await backlog.put(sighting('x', 1));
    const waiting = backlog.put(sighting('y', 2));
    backlog.take(1);
    await backlog.put(sighting('y', 3)); // takes the room first
    await waiting;
    expect(backlog.size).toBe(1);
    expect(backlog.take(5)).toEqual([expect.objectContaining({ credentialId: 'y', count: 2, coalesced: 2 })]);
  });

  it('refuses a capacity below 1', () => {
    expect(() => new AlertBacklog(0)).toThrow(/at least 1/);
  });
});
