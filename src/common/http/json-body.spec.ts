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

  it('scans a megabyte in less time than JSON.parse takes to parse it', () => {
    // Measured against the parse it guards, in the same moment (best of five each), not an absolute time:
    // the machine's speed varies from run to run. Here the scan takes about a tenth of the parse.
    const big = JSON.stringify({ items: Array.from({ length: 20_000 }, (_, i) => ({ id: i, name: `n${i}`, tags: ['a', 'b'] })) });
    const fastest = (run: () => unknown) => {
      let best = Infinity;
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        run();
        best = Math.min(best, performance.now() - started);
      }
      return best;
    };
    expect(jsonNestsDeeperThan(big, 32)).toBe(false);
    expect(fastest(() => jsonNestsDeeperThan(big, 32))).toBeLessThan(fastest(() => JSON.parse(big)));
  });
});
