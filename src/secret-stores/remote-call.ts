import type { RemoteStoreCalls } from '../config/app-config';
import type { SecretStoreName } from './secret-store';
import { SecretStoreUnavailableError } from './secret-store';

/** How an adapter judged a failed call to its store. */
export interface FailureVerdict {
  /** Worth another attempt: throttling, 5xx, a dropped or refused connection, a timeout. */
  retryable: boolean;
  /** What went wrong, for the 503 detail: codes and statuses only, never a response body or request. */
  detail: string;
}

/**
 * Runs one store operation with bounded retries and exponential backoff with
 * jitter. Every operation an adapter passes here is idempotent as a whole (a
 * CAS write, a ClientRequestToken, a re-read of the staging labels), so a
 * retry after a lost response cannot make a second version.
 *
 * Domain errors (not found, conflict) pass through untouched; anything else
 * that survives the attempts becomes SecretStoreUnavailableError naming the store.
 */
export async function callWithRetries<T>(
  store: SecretStoreName,
  policy: RemoteStoreCalls,
  judge: (error: unknown) => FailureVerdict | null,
  operation: () => Promise<T>,
  onRetry?: (attempt: number, verdict: FailureVerdict) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      const verdict = judge(error);
      if (verdict === null) throw error;
      if (!verdict.retryable || attempt >= policy.maxAttempts) {
        const tries = attempt > 1 ? ` after ${attempt} attempts` : '';
        throw new SecretStoreUnavailableError(store, `${verdict.detail}${tries}`);
      }
      onRetry?.(attempt, verdict);
      await sleep(backoffMs(policy.retryBaseDelayMs, attempt));
    }
  }
}

/** Equal jitter: half the exponential step is fixed, half random, capped at 5 s. */
export function backoffMs(baseMs: number, attempt: number): number {
  const step = Math.min(5000, baseMs * 2 ** (attempt - 1));
  return step / 2 + Math.random() * (step / 2);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/**
 * A transport failure (no HTTP answer at all), described by its code alone.
 * Returns null when the error is not one.
 */
export function transportFailure(error: unknown, timeoutMs: number): FailureVerdict | null {
  const e = error as { code?: unknown; name?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const name = typeof e?.name === 'string' ? e.name : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  // Order matters: the AWS SDK reports a dropped socket as "TimeoutError: socket hang up".
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up|ECONNRESET|EPIPE/.test(message)) {
    return { retryable: true, detail: 'unreachable (connection dropped)' };
  }
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message)) return { retryable: true, detail: 'unreachable (ECONNREFUSED)' };
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || name === 'TimeoutError' || /timeout|timed out/i.test(message)) {
    return { retryable: true, detail: `no answer within ${timeoutMs} ms` };
  }
  if (code && NETWORK_CODES.has(code)) return { retryable: true, detail: `unreachable (${code})` };
  return null;
}

/** A code or type name safe to show: letters, digits and a few separators, bounded. */
export function safeCode(value: unknown): string {
  return typeof value === 'string' && /^[A-Za-z0-9_.:#-]{1,80}$/.test(value) ? value : 'unknown error';
}
