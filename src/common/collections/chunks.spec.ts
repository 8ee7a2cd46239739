import { chunks } from './chunks';

describe('chunks', () => {
  it('slices in order, the last slice holding the rest', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunks([1, 2], 5)).toEqual([[1, 2]]);
    expect(chunks([], 3)).toEqual([]);
  });

  it('refuses a size below one', () => {
    expect(() => chunks([1], 0)).toThrow('chunk size');
  });
});
