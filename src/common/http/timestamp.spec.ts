import { isTimestamp } from './timestamp';

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
});
