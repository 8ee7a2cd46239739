/**
 * When a failed delivery is tried again. Pure, so the schedule is unit-tested
 * without waiting: `delays` is the configured schedule (5s, 30s, 2m, 10m, 30m,
 * 1h, then hourly up to 24 h by default), each step with ±10 % jitter, and
 * never sooner than the gateway's `retry-after` (capped at an hour, so a
 * gateway cannot park an urgent revocation for days).
 */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

export type RetryDecision = { retry: true; delayMs: number } | { retry: false };

export function nextRetry(input: {
  /** Failed attempts in this round, including the one that just failed. */
  failures: number;
  delays: number[];
  /** A number in [0, 1) for the jitter. */
  jitter: number;
  retryAfterMs?: number | null;
}): RetryDecision {
  const { failures, delays } = input;
  if (failures > delays.length) return { retry: false };
  const base = delays[failures - 1];
  const jittered = Math.round(base * (0.9 + 0.2 * input.jitter));
  const floor = input.retryAfterMs ? Math.min(input.retryAfterMs, MAX_RETRY_AFTER_MS) : 0;
  return { retry: true, delayMs: Math.max(jittered, floor) };
}

/** `retry-after` as delta-seconds or an HTTP date, in milliseconds from `now`; null if absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now.getTime());
}

/** Which answers mean "try again later" rather than "acknowledged" or "gone". */
export type AttemptOutcome = 'acknowledged' | 'gone' | 'retry';

/** 2xx acknowledges; 410 disables the gateway; anything else (3xx included: redirects are never followed) is retried. */
export function classifyStatus(status: number): AttemptOutcome {
  if (status >= 200 && status < 300) return 'acknowledged';
  if (status === 410) return 'gone';
  return 'retry';
}
