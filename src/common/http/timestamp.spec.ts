import { isISO8601 } from 'class-validator';
import fc from 'fast-check';

import { isTimestamp, timestampMs } from './timestamp';

describe('isTimestamp', () => {
  it('accepts strict ISO 8601 date-times Postgres and Date read alike', () => {
    for (const s of [
      '2025-01-31T12:00:00Z',
      '2025-01-31T12:00:00.123+02:00',
      '2025-01-31',
      '1000-01-01T00:00:00Z',
      '9999-12-31T23:59:59Z',
    ]) {
      expect([s, isTimestamp(s)]).toEqual([s, true]);
    }
  });

  it('refuses what Date cannot read, years outside 1000..9999 and non-strings', () => {
    for (const s of [
      '-9999-01-01T00:00:00Z',
      '+9999-01-01T00:00:00Z',
      '+275760-09-13T00:00:00Z',
      '2020-W01',
      '2020-02-30',
      '0999-12-31T23:59:59Z',
      '9999-12-31T23:59:59-01:00',
      'tomorrow',
      1700000000000,
      null,
    ]) {
      expect([s, isTimestamp(s)]).toEqual([s, false]);
    }
  });

  it("reads toISOString's form on its fast path exactly as the strict check does, invalid dates included", () => {
    const slow = (s: string) => {
      if (!isISO8601(s, { strict: true })) return null;
      const time = Date.parse(s);
      return Number.isNaN(time) || new Date(time).getUTCFullYear() < 1000 || new Date(time).getUTCFullYear() > 9999 ? null : time;
    };
    const two = (min: number, max: number) => fc.integer({ min, max }).map((n) => String(n).padStart(2, '0'));
    const canonical = fc
      .tuple(
        fc.integer({ min: 900, max: 9999 }),
        two(0, 13),
        two(0, 32),
        two(0, 25),
        two(0, 61),
        two(0, 61),
        fc.integer({ min: 0, max: 999 }),
      )
      .map(([y, mo, d, h, mi, se, ms]) => `${String(y).padStart(4, '0')}-${mo}-${d}T${h}:${mi}:${se}.${String(ms).padStart(3, '0')}Z`);
    fc.assert(
      fc.property(canonical, (s) => {
        expect([s, timestampMs(s)]).toEqual([s, slow(s)]);
      }),
      { numRuns: 5000 },
    );
    expect(timestampMs('2024-02-29T23:59:59.999Z')).toBe(Date.UTC(2024, 1, 29, 23, 59, 59, 999));
    expect(timestampMs('2023-02-29T00:00:00.000Z')).toBeNull();
  });
});
