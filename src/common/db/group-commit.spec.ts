import { GroupCommit } from './group-commit';

describe('GroupCommit', () => {
  it('flushes what arrives together as one batch, and what arrives during a flush as the next', async () => {
    const batches: number[][] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const group = new GroupCommit<number, string>(async (items) => {
      batches.push(items);
      if (batches.length === 1) await gate;
      return items.map((i) => `done ${i}`);
    }, 100);
    const first = [1, 2, 3].map((i) => group.submit(i));
    await new Promise((r) => setImmediate(r));
    const second = [4, 5].map((i) => group.submit(i));
    release();
    expect(await Promise.all([...first, ...second])).toEqual(['done 1', 'done 2', 'done 3', 'done 4', 'done 5']);
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it('never puts more than maxBatch items in one flush', async () => {
    const sizes: number[] = [];
    const group = new GroupCommit<number, number>(async (items) => {
      sizes.push(items.length);
      return items;
    }, 2);
    expect(await Promise.all([1, 2, 3, 4, 5].map((i) => group.submit(i)))).toEqual([1, 2, 3, 4, 5]);
    expect(sizes).toEqual([2, 2, 1]);
  });

  it('fails every item of a flush that throws, and carries on with the next', async () => {
    let calls = 0;
    const group = new GroupCommit<number, number>(async (items) => {
      calls++;
      if (calls === 1) throw new Error('deadlock detected');
      return items;
    }, 10);
    const failed = [1, 2].map((i) => group.submit(i));
    await expect(Promise.all(failed)).rejects.toThrow('deadlock detected');
    await expect(failed[1]).rejects.toThrow('deadlock detected');
    expect(await group.submit(3)).toBe(3);
  });

  it('with a window, gathers items that arrive within it; what waited through a flush goes without waiting again', async () => {
    jest.useFakeTimers();
    try {
      const batches: Array<{ items: number[]; at: number }> = [];
      const group = new GroupCommit<number, number>(
        async (items) => {
          batches.push({ items, at: jest.now() });
          await new Promise((r) => setTimeout(r, 30));
          return items;
        },
        100,
        40,
      );
      const t0 = jest.now();
      const first = group.submit(1);
      await jest.advanceTimersByTimeAsync(10);
      const second = group.submit(2);
      await jest.advanceTimersByTimeAsync(35); // t0 + 45: the first flush (from t0 + 40) is in flight
      const third = group.submit(3);
      await jest.advanceTimersByTimeAsync(100);
      expect(await Promise.all([first, second, third])).toEqual([1, 2, 3]);
      expect(batches.map((b) => b.items)).toEqual([[1, 2], [3]]);
      expect(batches[0].at - t0).toBe(40);
      // Right when the first flush ended (t0 + 70), not a window later (t0 + 110).
      expect(batches[1].at - t0).toBeGreaterThanOrEqual(70);
      expect(batches[1].at - t0).toBeLessThan(75);
    } finally {
      jest.useRealTimers();
    }
  });
});
