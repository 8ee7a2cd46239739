import { backoffMs, callWithRetries, transportFailure } from './remote-call';
import { SecretStoreUnavailableError, SecretVersionNotFoundError } from './secret-store';

const policy = { timeoutMs: 1000, maxAttempts: 3, retryBaseDelayMs: 1 };

describe('callWithRetries', () => {
  const retryable = () => ({ retryable: true, detail: 'HTTP 500' });

  it('retries retryable failures and returns the first success', async () => {
    let calls = 0;
    const result = await callWithRetries('vault', policy, retryable, async () => {
      if (++calls < 3) throw new Error('boom');
      return 'ok';
    });
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('gives up after maxAttempts with a 503 error naming the store and the attempts', async () => {
    let calls = 0;
    const error = await callWithRetries('aws', policy, retryable, async () => {
      calls++;
      throw new Error('agk_live_secret-looking-text');
    }).catch((e: unknown) => e as Error);
    expect(calls).toBe(3);
    expect(error).toBeInstanceOf(SecretStoreUnavailableError);
    expect(error.message).toBe('Secret store aws is unavailable: HTTP 500 after 3 attempts');
  });

  it('does not retry what the judge calls final, and passes domain errors through untouched', async () => {
    let calls = 0;
    const final = await callWithRetries(
      'vault',
      policy,
      () => ({ retryable: false, detail: 'sealed' }),
      async () => {
        calls++;
        throw new Error('x');
      },
    ).catch((e: unknown) => e as Error);
    expect(calls).toBe(1);
    expect(final.message).toBe('Secret store vault is unavailable: sealed');

    const notFound = new SecretVersionNotFoundError('vault', '2');
    await expect(
      callWithRetries(
        'vault',
        policy,
        () => null,
        async () => Promise.reject(notFound),
      ),
    ).rejects.toBe(notFound);
  });
});

describe('backoffMs', () => {
  it('grows exponentially with jitter in the upper half of each step, capped at 5 s', () => {
    for (let i = 0; i < 50; i++) {
      const first = backoffMs(100, 1);
      expect(first).toBeGreaterThanOrEqual(50);
      expect(first).toBeLessThanOrEqual(100);
      const third = backoffMs(100, 3);
      expect(third).toBeGreaterThanOrEqual(200);
      expect(third).toBeLessThanOrEqual(400);
      expect(backoffMs(100, 20)).toBeLessThanOrEqual(5000);
    }
  });
});

describe('transportFailure', () => {
  it('names dropped, refused and timed-out connections by code only', () => {
    expect(transportFailure(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 500)).toEqual({
      retryable: true,
      detail: 'unreachable (connection dropped)',
    });
    // The AWS SDK wraps a dropped socket as a TimeoutError.
    expect(
      transportFailure(Object.assign(new Error('AWS SDK error wrapper for TimeoutError: socket hang up'), { name: 'TimeoutError' }), 500),
    ).toEqual({ retryable: true, detail: 'unreachable (connection dropped)' });
    expect(transportFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 500)?.detail).toBe(
      'unreachable (ECONNREFUSED)',
    );
    expect(transportFailure(Object.assign(new Error('timeout of 500ms exceeded'), { code: 'ECONNABORTED' }), 500)?.detail).toBe(
      'no answer within 500 ms',
    );
    expect(transportFailure(new Error('something else'), 500)).toBeNull();
  });
});
