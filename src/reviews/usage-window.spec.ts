import { windowStart } from './usage-recommendation';

describe('windowStart: review usage windows in whole UTC days', () => {
  it('starts at the UTC midnight of the day N days before the open', () => {
    expect(windowStart(new Date('2026-12-06T05:40:00Z'), 90).toISOString()).toBe('2026-09-07T00:00:00.000Z');
    expect(windowStart(new Date('2026-12-06T23:59:59.999Z'), 30).toISOString()).toBe('2026-11-06T00:00:00.000Z');
  });

  it('is the open minus N days exactly when the open is at a UTC midnight (never later than it)', () => {
    const open = new Date('2026-12-06T00:00:00Z');
    expect(windowStart(open, 90).getTime()).toBe(open.getTime() - 90 * 86_400_000);
    const late = new Date('2026-12-06T00:00:00.001Z');
    expect(windowStart(late, 90).getTime()).toBeLessThanOrEqual(late.getTime() - 90 * 86_400_000);
  });
});
