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
});
