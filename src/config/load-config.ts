import { z } from 'zod';

import { AppConfig, GeneratedDevSecrets, LEAK_ACTIONS, PROCESS_ROLES, RawEnv, RemoteStoreCalls, SECRET_STORE_NAMES } from './app-config';

/**
 * The environment's schema and the loader that turns it into an AppConfig,
 * failing with one line per problem that names the variable and what to do.
 */

const booleanString = z.enum(['true', 'false', '1', '0'], { message: 'must be true or false' }).transform((v) => v === 'true' || v === '1');

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

function urlWithProtocols(protocols: string[]) {
  return z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `is not a valid ${protocols.map((p) => p.replace(':', '')).join('/')} URL` },
  );
}

const base64Key32 = z.string().refine((value) => /^[A-Za-z0-9+/]+={0,2}$/.test(value) && Buffer.from(value, 'base64').length === 32, {
  message: 'must be base64 of exactly 32 random bytes (e.g. `openssl rand -base64 32`)',
});

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `250ms`, `5s`, `2m`, `1h` in milliseconds; null when it is not one. */
function parseDuration(value: string): number | null {
  const match = /^(\d{1,9})(ms|s|m|h)$/.exec(value.trim());
  return match ? Number(match[1]) * DURATION_UNITS_MS[match[2]] : null;
}

const duration = z.string().transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === null || ms <= 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a duration like 500ms, 5s, 2m or 24h' });
    return z.NEVER;
  }
  return ms;
});

const durationList = z.string().transform((value, ctx) => {
  const parts = value.split(',').map((part) => parseDuration(part));
  if (parts.length === 0 || parts.some((ms) => ms === null || ms <= 0)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a comma-separated list of durations like 5s,30s,2m,1h' });
    return z.NEVER;
  }
  return parts as number[];
});

/** Host names, optionally `*.`-prefixed for every subdomain; stored lower-case. */
const hostList = optionalString.transform((value, ctx) => {
  if (value === undefined) return null;
  const hosts = value
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const hostPattern = /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$|^[0-9a-f:]+$/;
  if (hosts.length === 0 || hosts.some((h) => !hostPattern.test(h))) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: 'must be a comma-separated list of host names, e.g. gw1.example.com,*.gateways.example.com',
    });
    return z.NEVER;
  }
  return hosts;
});

/**
 * An OAuth issuer (RFC 8414 §2): an https URL (http allowed for local use) with no query or fragment, kept
 * without a trailing slash so `iss` compares exactly; an audience is held to the same form.
 */
const oauthIdentifier = urlWithProtocols(['http:', 'https:'])
  .refine(
    (value) => {
      if (!URL.canParse(value)) return true; // refused already, as not a URL
      const url = new URL(value);
      return url.search === '' && url.hash === '' && !value.includes('?') && !value.includes('#');
    },
    { message: 'must be a URL without query or fragment, e.g. https://credentials.example.com' },
  )
  .transform((value) => value.replace(/\/+$/, ''));

const intInRange = (min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .int({ message: 'must be an integer' })
    .min(min, { message: `must be at least ${min}` })
    .max(max, { message: `must be at most ${max}` });

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: intInRange(0, 65535).default(3000),
  DATABASE_URL: urlWithProtocols(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5432/credentials'),
  DATABASE_POOL_SIZE: intInRange(1, 200).default(10),
  MIGRATIONS_RUN: booleanString.default('true'),
  REDIS_URL: urlWithProtocols(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'must be 1-64 letters, digits, _ . or -' })
    .default('agc'),
  ADMIN_TOKEN: optionalString.pipe(z.string().min(32, { message: 'must be at least 32 characters' }).optional()),
  LOCAL_STORE_KEY: optionalString.pipe(base64Key32.optional()),
  SECRET_STORE_DEFAULT: z.enum(SECRET_STORE_NAMES).default('local'),
  VAULT_ADDR: optionalString.pipe(urlWithProtocols(['http:', 'https:']).optional()),
  VAULT_TOKEN: optionalString,
  VAULT_ROLE_ID: optionalString,
  VAULT_SECRET_ID: optionalString,
  VAULT_NAMESPACE: optionalString,
  VAULT_KV_MOUNT: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, { message: 'must be a mount path like secret' })
    .default('secret'),
  VAULT_KV_MAX_VERSIONS: intInRange(2, 1000).default(20),
  AWS_REGION: optionalString,
  AWS_ENDPOINT_URL: optionalString.pipe(urlWithProtocols(['http:', 'https:']).optional()),
  AWS_RECOVERY_WINDOW_DAYS: optionalString.pipe(intInRange(7, 30).optional()),
  AWS_ACCESS_KEY_ID: optionalString,
  AWS_SECRET_ACCESS_KEY: optionalString,
  AWS_SESSION_TOKEN: optionalString,
  SECRET_STORE_TIMEOUT_MS: intInRange(50, 120_000).default(5000),
  SECRET_STORE_MAX_ATTEMPTS: intInRange(1, 10).default(3),
  SECRET_STORE_RETRY_BASE_MS: intInRange(1, 10_000).default(100),
  ROLES: z
    .string()
    .default('api,worker,scheduler')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(
      z
        .array(z.enum(PROCESS_ROLES, { message: `each role must be one of ${PROCESS_ROLES.join(', ')}` }))
        .min(1, { message: 'must name at least one role' }),
    ),
  MAX_ROTATION_INTERVAL_DAYS: intInRange(1, 90).default(90),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  AUDIT_CHAIN_INTERVAL_MS: intInRange(10, 60_000).default(250),
  LOCAL_SECRETS_FILE: z.string().default('.local/dev-secrets.json'),
  GATEWAY_URL_ALLOWLIST: hostList,
  GATEWAY_ALLOW_PRIVATE_NETWORKS: booleanString.default('true'),
  GATEWAY_ALLOW_LOOPBACK: optionalString.pipe(booleanString.optional()),
  DELIVERY_CONCURRENCY: intInRange(1, 500).default(32),
  DELIVERY_TIMEOUT_MS: intInRange(50, 60_000).default(10_000),
  DELIVERY_RETRY_SCHEDULE: durationList.default('5s,30s,2m,10m,30m,1h'),
  DELIVERY_RETRY_WINDOW: duration.default('24h'),
  DELIVERY_LOCK_MS: optionalString.pipe(intInRange(500, 600_000).optional()),
  OUTBOX_SWEEP_INTERVAL_MS: intInRange(100, 3_600_000).default(5_000),
  JOB_LOCK_MS: intInRange(500, 600_000).default(5_000),
  JOB_STALLED_CHECK_MS: intInRange(100, 600_000).default(1_000),
  REVIEW_HIGH_RATE_LIMIT_PER_SECOND: intInRange(1, 100_000).default(100),
  REVIEW_SWEEP_INTERVAL_MS: intInRange(100, 86_400_000).default(60_000),
  NOTIFY_WEBHOOK_URL: optionalString.pipe(urlWithProtocols(['http:', 'https:']).optional()),
  NOTIFY_WEBHOOK_SECRET: optionalString.pipe(
    z
      .string()
      .refine((v) => /^whsec_[A-Za-z0-9+/]+={0,2}$/.test(v) && Buffer.from(v.slice(6), 'base64').length >= 24, {
        message: 'must be whsec_ followed by base64 of at least 24 random bytes (e.g. `echo whsec_$(openssl rand -base64 32)`)',
      })
      .optional(),
  ),
  ROTATION_SWEEP_INTERVAL_MS: intInRange(100, 86_400_000).default(60_000),
  ROTATION_SWEEP_BATCH: intInRange(1, 10_000).default(500),
  ROTATION_CONCURRENCY: intInRange(1, 500).default(16),
  ROTATION_MAX_ATTEMPTS: intInRange(1, 100).default(8),
  ROTATION_RETRY_BASE_MS: intInRange(1, 3_600_000).default(30_000),
  ROTATION_RETRY_MAX_MS: intInRange(1, 86_400_000).default(900_000),
  ROTATION_RATE_LIMIT_LOCAL: intInRange(1, 10_000_000).default(60_000),
  ROTATION_RATE_LIMIT_VAULT: intInRange(1, 10_000_000).default(1_200),
  ROTATION_RATE_LIMIT_AWS: intInRange(1, 10_000_000).default(300),
  ROTATION_RATE_LIMIT_WINDOW_MS: intInRange(100, 3_600_000).default(60_000),
  ROTATION_JOB_LOCK_MS: optionalString.pipe(intInRange(500, 600_000).optional()),
  ROTATION_STALE_AFTER_MS: intInRange(1_000, 86_400_000).default(2_000),
  SHUTDOWN_TIMEOUT_MS: intInRange(1_000, 600_000).default(10_000),
  GITHUB_SECRET_SCANNING_KEYS_FILE: optionalString,
  LEAK_ACTION: optionalString.pipe(z.enum(LEAK_ACTIONS, { message: `must be one of ${LEAK_ACTIONS.join(', ')}` }).default('revoke')),
  AUTHZ_RATE_LIMITED_STATUS: z.enum(['429', '403'], { message: 'must be 429 or 403' }).default('429'),
  RATE_LIMIT_TIMEOUT_MS: intInRange(1, 10_000).default(1_000),
  RATE_LIMIT_ON_REDIS_ERROR: z.enum(['allow', 'deny'], { message: 'must be allow or deny' }).default('allow'),
  VERIFY_CACHE_MAX_UNKNOWN: intInRange(0, 10_000_000).default(100_000),
  USAGE_FLUSH_INTERVAL_MS: intInRange(10, 60_000).default(1_000),
  USAGE_FLUSH_MAX_ENTRIES: intInRange(1, 1_000_000).default(10_000),
  OAUTH_ISSUER: oauthIdentifier.default('http://127.0.0.1:3000'),
  OAUTH_AUDIENCE: optionalString.pipe(oauthIdentifier.optional()),
  OAUTH_TOKEN_TTL_SECONDS: intInRange(60, 3600).default(600),
  OAUTH_SIGNING_KEY_DAYS: intInRange(1, 365).default(30),
  USAGE_RETENTION_DAYS: intInRange(1, 400).default(30),
  USAGE_PARTITION_SWEEP_INTERVAL_MS: intInRange(1_000, 86_400_000).default(3_600_000),
  USAGE_MAX_CLOCK_SKEW_MS: intInRange(0, 3_600_000).default(300_000),
  ALERT_AUTH_FAILURES_PER_MINUTE: intInRange(1, 1_000_000).default(20),
  ALERT_SPIKE_MIN_CALLS: intInRange(1, 1_000_000_000).default(1000),
  ALERT_SWEEP_INTERVAL_MS: intInRange(1_000, 3_600_000).default(60_000),
  ALERT_BACKLOG_MAX: intInRange(1, 1_000_000).default(10_000),
});
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
/**
 * Parses the environment. Throws ConfigError with one line per problem, each
 * naming the variable and what to do about it.
 */
export function loadConfig(env: RawEnv, devSecrets?: GeneratedDevSecrets): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'} ${issue.message}`);
    throw new ConfigError(lines.join('; '));
  }
  const e = parsed.data;
  const adminToken = e.ADMIN_TOKEN ?? (e.NODE_ENV === 'production' ? undefined : devSecrets?.ADMIN_TOKEN);
  const localKey = e.LOCAL_STORE_KEY ?? (e.NODE_ENV === 'production' ? undefined : devSecrets?.LOCAL_STORE_KEY);
  if (!adminToken) {
    throw new ConfigError('ADMIN_TOKEN is required in production: set it to a random string of at least 32 characters');
  }
  if (!localKey) {
    throw new ConfigError('LOCAL_STORE_KEY is required in production: set it to `openssl rand -base64 32`');
  }

  const calls: RemoteStoreCalls = {
    timeoutMs: e.SECRET_STORE_TIMEOUT_MS,
    maxAttempts: e.SECRET_STORE_MAX_ATTEMPTS,
    retryBaseDelayMs: e.SECRET_STORE_RETRY_BASE_MS,
  };
  let vault: AppConfig['secretStores']['vault'];
  if (e.VAULT_ADDR) {
    const hasAppRole = Boolean(e.VAULT_ROLE_ID || e.VAULT_SECRET_ID);
    if (hasAppRole && !(e.VAULT_ROLE_ID && e.VAULT_SECRET_ID)) {
      throw new ConfigError('VAULT_ROLE_ID and VAULT_SECRET_ID must be set together for AppRole login');
    }
    if (!e.VAULT_TOKEN && !hasAppRole) {
      throw new ConfigError('VAULT_ADDR is set but neither VAULT_TOKEN nor VAULT_ROLE_ID/VAULT_SECRET_ID is');
    }
    vault = {
      address: e.VAULT_ADDR,
      token: e.VAULT_TOKEN,
      roleId: e.VAULT_ROLE_ID,
      secretId: e.VAULT_SECRET_ID,
      namespace: e.VAULT_NAMESPACE,
      mount: e.VAULT_KV_MOUNT,
      maxVersions: e.VAULT_KV_MAX_VERSIONS,
      ...calls,
    };
  }
  let aws: AppConfig['secretStores']['aws'];
  if (Boolean(e.AWS_ACCESS_KEY_ID) !== Boolean(e.AWS_SECRET_ACCESS_KEY)) {
    throw new ConfigError(
      'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together (or neither, to use the default AWS credential chain)',
    );
  }
  if (e.AWS_REGION) {
    aws = {
      region: e.AWS_REGION,
      endpoint: e.AWS_ENDPOINT_URL,
      recoveryWindowDays: e.AWS_RECOVERY_WINDOW_DAYS,
      credentials:
        e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
          ? { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY, sessionToken: e.AWS_SESSION_TOKEN }
          : undefined,
      ...calls,
    };
  } else if (e.AWS_ENDPOINT_URL) {
    throw new ConfigError('AWS_ENDPOINT_URL is set but AWS_REGION is not: set AWS_REGION (e.g. us-east-1)');
  }
  if (Boolean(e.NOTIFY_WEBHOOK_URL) !== Boolean(e.NOTIFY_WEBHOOK_SECRET)) {
    throw new ConfigError(
      'NOTIFY_WEBHOOK_URL and NOTIFY_WEBHOOK_SECRET must be set together: the secret signs review reminders and alert events as gateway events are signed',
    );
  }
  const configured = { local: true, vault: Boolean(vault), aws: Boolean(aws) };
  if (!configured[e.SECRET_STORE_DEFAULT]) {
    throw new ConfigError(
      `SECRET_STORE_DEFAULT is ${e.SECRET_STORE_DEFAULT} but that store is not configured: ` +
        (e.SECRET_STORE_DEFAULT === 'vault' ? 'set VAULT_ADDR and credentials' : 'set AWS_REGION'),
    );
  }

  const config: AppConfig = {
    env: e.NODE_ENV,
    http: { host: e.HOST, port: e.PORT, bodyLimitBytes: 1024 * 1024 },
    database: { url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE, migrationsRun: e.MIGRATIONS_RUN },
    redis: { url: e.REDIS_URL, prefix: e.REDIS_PREFIX },
    adminToken,
    secretStores: {
      default: e.SECRET_STORE_DEFAULT,
      local: { key: Buffer.from(localKey, 'base64') },
      vault,
      aws,
    },
    roles: [...new Set(e.ROLES)],
    policy: { maxRotationIntervalDays: e.MAX_ROTATION_INTERVAL_DAYS },
    log: { level: e.LOG_LEVEL },
    audit: { chainIntervalMs: e.AUDIT_CHAIN_INTERVAL_MS },
    gateways: {
      urlAllowlist: e.GATEWAY_URL_ALLOWLIST,
      allowPrivateNetworks: e.GATEWAY_ALLOW_PRIVATE_NETWORKS,
      // Loopback is the more dangerous of the two (this host's own services), so
      // whoever forbids private networks forbids it too unless they say otherwise.
      allowLoopback: e.GATEWAY_ALLOW_LOOPBACK ?? e.GATEWAY_ALLOW_PRIVATE_NETWORKS,
    },
    delivery: {
      concurrency: e.DELIVERY_CONCURRENCY,
      timeoutMs: e.DELIVERY_TIMEOUT_MS,
      retryDelaysMs: expandRetrySchedule(e.DELIVERY_RETRY_SCHEDULE, e.DELIVERY_RETRY_WINDOW),
      lockMs: e.DELIVERY_LOCK_MS ?? e.JOB_LOCK_MS,
    },
    jobs: { lockMs: e.JOB_LOCK_MS, stalledCheckMs: e.JOB_STALLED_CHECK_MS, sweepIntervalMs: e.OUTBOX_SWEEP_INTERVAL_MS },
    reviews: {
      highRateLimitPerSecond: e.REVIEW_HIGH_RATE_LIMIT_PER_SECOND,
      sweepIntervalMs: e.REVIEW_SWEEP_INTERVAL_MS,
    },
    notify:
      e.NOTIFY_WEBHOOK_URL && e.NOTIFY_WEBHOOK_SECRET ? { webhookUrl: e.NOTIFY_WEBHOOK_URL, signingSecret: e.NOTIFY_WEBHOOK_SECRET } : null,
    rotation: {
      sweepIntervalMs: e.ROTATION_SWEEP_INTERVAL_MS,
      sweepBatch: e.ROTATION_SWEEP_BATCH,
      concurrency: e.ROTATION_CONCURRENCY,
      maxAttempts: e.ROTATION_MAX_ATTEMPTS,
      retryBaseMs: e.ROTATION_RETRY_BASE_MS,
      retryMaxMs: Math.max(e.ROTATION_RETRY_MAX_MS, e.ROTATION_RETRY_BASE_MS),
      ratePerMinute: { local: e.ROTATION_RATE_LIMIT_LOCAL, vault: e.ROTATION_RATE_LIMIT_VAULT, aws: e.ROTATION_RATE_LIMIT_AWS },
      rateWindowMs: e.ROTATION_RATE_LIMIT_WINDOW_MS,
      jobLockMs: e.ROTATION_JOB_LOCK_MS ?? e.JOB_LOCK_MS,
      staleAfterMs: e.ROTATION_STALE_AFTER_MS,
    },
    shutdown: { timeoutMs: e.SHUTDOWN_TIMEOUT_MS },
    leaks: { githubKeysFile: e.GITHUB_SECRET_SCANNING_KEYS_FILE ?? null, action: e.LEAK_ACTION },
    usage: {
      retentionDays: e.USAGE_RETENTION_DAYS,
      partitionSweepIntervalMs: e.USAGE_PARTITION_SWEEP_INTERVAL_MS,
      maxClockSkewMs: e.USAGE_MAX_CLOCK_SKEW_MS,
    },
    alerts: {
      authFailuresPerMinute: e.ALERT_AUTH_FAILURES_PER_MINUTE,
      spikeMinCalls: e.ALERT_SPIKE_MIN_CALLS,
      sweepIntervalMs: e.ALERT_SWEEP_INTERVAL_MS,
      backlogMax: e.ALERT_BACKLOG_MAX,
    },
    enforcement: {
      authzRateLimitedStatus: e.AUTHZ_RATE_LIMITED_STATUS === '403' ? 403 : 429,
      rateLimitTimeoutMs: e.RATE_LIMIT_TIMEOUT_MS,
      rateLimitOnRedisError: e.RATE_LIMIT_ON_REDIS_ERROR,
      maxUnknownKeys: e.VERIFY_CACHE_MAX_UNKNOWN,
      usageFlushIntervalMs: e.USAGE_FLUSH_INTERVAL_MS,
      usageFlushMaxEntries: e.USAGE_FLUSH_MAX_ENTRIES,
    },
    oauth: {
      issuer: e.OAUTH_ISSUER,
      audience: e.OAUTH_AUDIENCE ?? e.OAUTH_ISSUER,
      tokenTtlSeconds: e.OAUTH_TOKEN_TTL_SECONDS,
      signingKeyDays: e.OAUTH_SIGNING_KEY_DAYS,
    },
  };
  return config;
}

/**
 * The delays between delivery attempts: the schedule as given, then its last
 * step repeated while the running total stays within the window (5s, 30s, 2m,
 * 10m, 30m, 1h, then hourly up to 24 h by default). Always at least one retry.
 */
export function expandRetrySchedule(schedule: number[], windowMs: number): number[] {
  const delays: number[] = [];
  let total = 0;
  for (const step of schedule) {
    if (delays.length > 0 && total + step > windowMs) return delays;
    delays.push(step);
    total += step;
  }
  const last = schedule[schedule.length - 1];
  while (total + last <= windowMs) {
    delays.push(last);
    total += last;
  }
  return delays;
}

/** Whether the environment lacks secrets that a development machine may generate. */
export function needsDevSecrets(env: RawEnv): boolean {
  return env.NODE_ENV !== 'production' && (!env.ADMIN_TOKEN?.trim() || !env.LOCAL_STORE_KEY?.trim());
}

export function localSecretsFilePath(env: RawEnv): string {
  return env.LOCAL_SECRETS_FILE?.trim() || '.local/dev-secrets.json';
}
