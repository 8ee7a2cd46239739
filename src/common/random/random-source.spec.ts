import { CryptoRandomSource } from './random-source';

describe('CryptoRandomSource.orderedUuid', () => {
  it('draws ids that sort in the order they were drawn, also within one millisecond', () => {
    const random = new CryptoRandomSource();
    const ids = Array.from({ length: 2_000 }, () => random.orderedUuid());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
