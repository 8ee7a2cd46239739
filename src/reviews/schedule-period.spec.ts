import { DAY_MS } from '../common/clock/clock';
import { currentPeriod, periodStart } from './schedule-period';

describe('currentPeriod', () => {
  const start = new Date('2030-01-01T00:00:00Z');

  it('is null before the start, 0 from it, and steps every everyDays', () => {
    expect(currentPeriod(start, 90, new Date(start.getTime() - 1))).toBeNull();
    expect(currentPeriod(start, 90, start)).toBe(0);
    expect(currentPeriod(start, 90, new Date(start.getTime() + 90 * DAY_MS - 1))).toBe(0);
    expect(currentPeriod(start, 90, new Date(start.getTime() + 90 * DAY_MS))).toBe(1);
    expect(currentPeriod(start, 1, new Date(start.getTime() + 10.5 * DAY_MS))).toBe(10);
  });

  it('periodStart inverts it', () => {
    expect(periodStart(start, 90, 2).toISOString()).toBe('2030-06-30T00:00:00.000Z');
  });
});
