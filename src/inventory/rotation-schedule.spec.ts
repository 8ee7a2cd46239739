import { DAY_MS } from '../common/clock/clock';
import { nextRotationAt } from './rotation-schedule';

describe('nextRotationAt', () => {
  const from = new Date('2026-01-01T00:00:00.000Z');

  it('is never later than the interval, and at most 1% earlier', () => {
    for (const unit of [0, 0.25, 0.5, 0.999, 1]) {
      const at = nextRotationAt(from, 90, unit).getTime() - from.getTime();
      expect(at).toBeLessThanOrEqual(90 * DAY_MS);
      expect(at).toBeGreaterThanOrEqual(90 * DAY_MS * 0.99);
    }
  });

  it('spreads credentials issued together', () => {
    const times = new Set([0.1, 0.2, 0.3, 0.4].map((u) => nextRotationAt(from, 30, u).getTime()));
    expect(times.size).toBe(4);
  });
});
