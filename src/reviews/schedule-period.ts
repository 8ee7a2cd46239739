import { DAY_MS } from '../common/clock/clock';

/**
 * The period of a schedule that `now` falls in: period k starts at
 * startsAt + k·everyDays. Null before the schedule starts. Only the current
 * period is opened, so a scheduler that was down for two periods opens one
 * campaign when it comes back, not three.
 */
export function currentPeriod(startsAt: Date, everyDays: number, now: Date): number | null {
  const elapsed = now.getTime() - startsAt.getTime();
  if (elapsed < 0) return null;
  return Math.floor(elapsed / (everyDays * DAY_MS));
}

export function periodStart(startsAt: Date, everyDays: number, period: number): Date {
  return new Date(startsAt.getTime() + period * everyDays * DAY_MS);
}
