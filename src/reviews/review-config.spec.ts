import { ConfigError, loadConfig } from '../config/load-config';

const base = { NODE_ENV: 'test', ADMIN_TOKEN: 'x'.repeat(32), LOCAL_STORE_KEY: Buffer.alloc(32, 1).toString('base64') };
const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

describe('review configuration', () => {
  it('defaults: flag above 100 requests per second, sweep every minute, no reminders', () => {
    const config = loadConfig(base);
    expect(config.reviews).toEqual({ highRateLimitPerSecond: 100, sweepIntervalMs: 60_000 });
    expect(config.notify).toBeNull();
  });

  it('takes the notification webhook with its signing secret', () => {
    const config = loadConfig({ ...base, NOTIFY_WEBHOOK_URL: 'https://notify.example.com/hooks', NOTIFY_WEBHOOK_SECRET: secret });
    expect(config.notify).toEqual({ webhookUrl: 'https://notify.example.com/hooks', signingSecret: secret });
  });

  it.each([
    [{ NOTIFY_WEBHOOK_URL: 'https://notify.example.com' }, /must be set together/],
    [{ NOTIFY_WEBHOOK_SECRET: secret }, /must be set together/],
    [{ NOTIFY_WEBHOOK_URL: 'ftp://x', NOTIFY_WEBHOOK_SECRET: secret }, /NOTIFY_WEBHOOK_URL is not a valid http\/https URL/],
    [{ NOTIFY_WEBHOOK_URL: 'https://x', NOTIFY_WEBHOOK_SECRET: 'whsec_c2hvcnQ=' }, /NOTIFY_WEBHOOK_SECRET must be whsec_/],
    [{ REVIEW_HIGH_RATE_LIMIT_PER_SECOND: '0' }, /REVIEW_HIGH_RATE_LIMIT_PER_SECOND must be at least 1/],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, ...env })).toThrow(message);
  });
});
