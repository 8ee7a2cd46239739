import { DAY_MS } from '../common/clock/clock';

/** At most this share of the interval is taken off as jitter, so the maximum interval always holds. */
const JITTER_SHARE = 0.01;

/**
 * When a credential next rotates: its interval after `from`, brought forward by
 * a random jitter of up to 1% of the interval, so credentials issued together
 * spread out instead of rotating in the same second. Never later than the interval.
 */
export function nextRotationAt(from: Date, intervalDays: number, randomUnit: number): Date {
  const interval = intervalDays * DAY_MS;
  const jitter = Math.floor(interval * JITTER_SHARE * Math.min(Math.max(randomUnit, 0), 1));
  return new Date(from.getTime() + interval - jitter);
}
