import { jsonNestsDeeperThan } from './json-body';

describe('jsonNestsDeeperThan', () => {
  const nest = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

  it('counts objects and arrays, up to and past the limit', () => {
    expect(jsonNestsDeeperThan(nest(32), 32)).toBe(false);
    expect(jsonNestsDeeperThan(nest(33), 32)).toBe(true);
    expect(jsonNestsDeeperThan('['.repeat(33) + ']'.repeat(33), 32)).toBe(true);
    expect(jsonNestsDeeperThan('[{"a":[{"b":[]}]}]', 5)).toBe(false);
    expect(jsonNestsDeeperThan('[{"a":[{"b":[]}]}]', 4)).toBe(true);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(jsonNestsDeeperThan(`{"a":"${'[{'.repeat(100)}"}`, 2)).toBe(false);
    expect(jsonNestsDeeperThan(`{"a":"\\"${'['.repeat(100)}\\\\"}`, 2)).toBe(false);
    expect(jsonNestsDeeperThan(`{"a":"\\\\","b":${nest(3)}}`, 3)).toBe(true);
  });

  it('scans a megabyte quickly', () => {
    const big = JSON.stringify({ items: Array.from({ length: 20_000 }, (_, i) => ({ id: i, name: `n${i}`, tags: ['a', 'b'] })) });
    const started = performance.now();
    expect(jsonNestsDeeperThan(big, 32)).toBe(false);
    expect(performance.now() - started).toBeLessThan(200);
  });
});
