import { expandRetrySchedule, loadConfig } from '../config/load-config';
import { classifyStatus, nextRetry, parseRetryAfter } from './retry-policy';

const S = 1000;
const M = 60 * S;
const H = 60 * M;

describe('delivery retry policy', () => {
  const defaults = expandRetrySchedule([5 * S, 30 * S, 2 * M, 10 * M, 30 * M, H], 24 * H);

  it('runs 5s, 30s, 2m, 10m, 30m, 1h, then hourly, all within 24 hours', () => {
    expect(defaults.slice(0, 7)).toEqual([5 * S, 30 * S, 2 * M, 10 * M, 30 * M, H, H]);
    const total = defaults.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThanOrEqual(24 * H);
    expect(total + H).toBeGreaterThan(24 * H);
    expect(defaults).toHaveLength(28);
  });

  it('is what the configuration gives by default', () => {
    const config = loadConfig({ ADMIN_TOKEN: 'x'.repeat(32), LOCAL_STORE_KEY: Buffer.alloc(32).toString('base64') });
    expect(config.delivery.retryDelaysMs).toEqual(defaults);
    expect(config.delivery.timeoutMs).toBe(10_000);
  });

  it('names the variable when the schedule is malformed', () => {
    const env = { ADMIN_TOKEN: 'x'.repeat(32), LOCAL_STORE_KEY: Buffer.alloc(32).toString('base64') };
    expect(() => loadConfig({ ...env, DELIVERY_RETRY_SCHEDULE: '5s,soon' })).toThrow(/^DELIVERY_RETRY_SCHEDULE must be/);
    expect(() => loadConfig({ ...env, GATEWAY_URL_ALLOWLIST: 'http://x' })).toThrow(/^GATEWAY_URL_ALLOWLIST must be/);
    expect(loadConfig({ ...env, GATEWAY_URL_ALLOWLIST: 'GW.example.com, *.gw.example.com' }).gateways.urlAllowlist).toEqual([
      'gw.example.com',
      '*.gw.example.com',
    ]);
  });

  it('applies ±10 % jitter and stops once the schedule is used up', () => {
    expect(nextRetry({ failures: 1, delays: defaults, jitter: 0 })).toEqual({ retry: true, delayMs: 4500 });
    expect(nextRetry({ failures: 1, delays: defaults, jitter: 0.999999 })).toEqual({ retry: true, delayMs: 5500 });
    expect(nextRetry({ failures: 28, delays: defaults, jitter: 0.5 })).toEqual({ retry: true, delayMs: H });
    expect(nextRetry({ failures: 29, delays: defaults, jitter: 0.5 })).toEqual({ retry: false });
  });

  it('never retries sooner than retry-after, capped at an hour', () => {
    expect(nextRetry({ failures: 1, delays: defaults, jitter: 0.5, retryAfterMs: 120 * S })).toEqual({ retry: true, delayMs: 120 * S });
    expect(nextRetry({ failures: 1, delays: defaults, jitter: 0.5, retryAfterMs: 1 * S })).toEqual({ retry: true, delayMs: 5 * S });
    expect(nextRetry({ failures: 1, delays: defaults, jitter: 0.5, retryAfterMs: 48 * H })).toEqual({ retry: true, delayMs: H });
  });

  it('reads retry-after as seconds or an HTTP date', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    expect(parseRetryAfter('30', now)).toBe(30 * S);
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:01:00 GMT', now)).toBe(M);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it('treats 2xx as acknowledged, 410 as gone and everything else as retry', () => {
    expect(classifyStatus(204)).toBe('acknowledged');
    expect(classifyStatus(410)).toBe('gone');
    for (const status of [301, 302, 400, 404, 429, 500, 503]) expect(classifyStatus(status)).toBe('retry');
  });
});
