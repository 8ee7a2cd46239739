import { MicroBatch } from './micro-batch';

describe('MicroBatch', () => {
  it('serves calls made together with one batch call, in order', async () => {
    const calls: number[][] = [];
    const batch = new MicroBatch<number, number>(async (inputs) => {
      calls.push(inputs);
      return inputs.map((i) => i * 2);
    }, 5);
    const results = await Promise.all([1, 2, 3].map((i) => batch.submit(i)));
    expect(results).toEqual([2, 4, 6]);
    expect(calls).toEqual([[1, 2, 3]]);
    expect(await batch.submit(4)).toBe(8);
    expect(calls).toHaveLength(2);
  });

  it('flushes at the size limit and fails every call of a failed batch', async () => {
    const calls: string[][] = [];
    const batch = new MicroBatch<string, string>(async (inputs) => {
      calls.push(inputs);
      if (inputs.includes('bad')) throw new Error('boom');
      return inputs;
    }, 1000, 2);
    expect(await Promise.all([batch.submit('a'), batch.submit('b')])).toEqual(['a', 'b']);
    await expect(Promise.all([batch.submit('bad'), batch.submit('c')])).rejects.toThrow('boom');
    expect(calls).toEqual([['a', 'b'], ['bad', 'c']]);
  });
});
