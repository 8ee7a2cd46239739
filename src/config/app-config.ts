/**
 * The one typed view of the environment. Nothing else in src/ reads process.env:
 * everything takes an AppConfig, so tests can build one without touching globals.
 * load-config.ts parses and checks the environment into one.
 */

export const SECRET_STORE_NAMES = ['local', 'vault', 'aws'] as const;
export type SecretStoreName = (typeof SECRET_STORE_NAMES)[number];

export const PROCESS_ROLES = ['api', 'worker', 'scheduler'] as const;
export type ProcessRole = (typeof PROCESS_ROLES)[number];

export type RawEnv = Record<string, string | undefined>;

/** What a confirmed leak report does to the credential (leaks module): revoke it, rotate it at once, or only record it. */
export const LEAK_ACTIONS = ['revoke', 'rotate', 'none'] as const;
export type LeakAction = (typeof LEAK_ACTIONS)[number];

/**
 * Interface and abstract class merge, so `AppConfig` is both the type and the
 * Nest injection token: `constructor(private readonly config: AppConfig)`.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class AppConfig {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface AppConfig {
  env: 'development' | 'test' | 'production';
  http: { host: string; port: number; bodyLimitBytes: number };
  database: { url: string; poolSize: number; migrationsRun: boolean };
  redis: { url: string; prefix: string };
  adminToken: string;
  secretStores: {
    default: SecretStoreName;
    local: { key: Buffer };
    vault?: {
      address: string;
      token?: string;
      roleId?: string;
      secretId?: string;
      namespace?: string;
      mount: string;
      /** KV v2 max_versions of each credential's key: enough that a version in its grace period survives. */
      maxVersions: number;
    } & RemoteStoreCalls;
    aws?: {
      region: string;
      endpoint?: string;
      recoveryWindowDays?: number;
      /** Explicit keys; without them the SDK's default provider chain finds credentials. */
      credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
    } & RemoteStoreCalls;
  };
  roles: ProcessRole[];
  policy: { maxRotationIntervalDays: number };
  log: { level: string };
  /** How often each process checks for audit events committed elsewhere that still need linking into the chain. */
  audit: { chainIntervalMs: number };
  /**
   * Where webhooks may go. `urlAllowlist`: the hosts gateway URLs may name (null: any).
   * Whatever the settings, a gateway URL never reaches a link-local or cloud metadata
   * address (nor unspecified, multicast or broadcast ones), checked against the
   * address the name resolves to when sending; private networks and loopback are
   * allowed unless switched off (gateways are often internal).
   */
  gateways: { urlAllowlist: string[] | null; allowPrivateNetworks: boolean; allowLoopback: boolean };
  delivery: {
    concurrency: number;
    timeoutMs: number;
    /** The wait before each retry: the schedule, its last step repeated while the total stays within the window. */
    retryDelaysMs: number[];
    /** How long a worker's lock on a delivery job lasts without renewal (a crashed worker's jobs come back after it); `jobs.lockMs` unless set. */
    lockMs: number;
  };
  jobs: {
    /** The lock a worker keeps on each job it holds, renewed every quarter to half of it (common/jobs/job-locks.ts). */
    lockMs: number;
    /** How often workers look for held jobs whose lock lapsed (their worker died) and hand them to a live one. */
    stalledCheckMs: number;
    /**
     * How often the scheduler checks that every row saying work is due (a pending delivery,
     * a running rotation, a due retirement, a pending secret destruction) has its job, and
     * enqueues those that went missing; done once as well when a worker or scheduler starts.
     */
    sweepIntervalMs: number;
  };
  reviews: {
    /** A credential allowing more requests per second than this gets the `high_rate_limit` risk flag. */
    highRateLimitPerSecond: number;
    /** How often the scheduler opens scheduled campaigns, closes overdue ones and sends reminders. */
    sweepIntervalMs: number;
  };
  /** Where review reminders and alert events go, signed like gateway events; null when not configured (then none are sent). */
  notify: { webhookUrl: string; signingSecret: string } | null;
  rotation: {
    /** How often the scheduler starts due rotations, retires versions whose grace ended and re-enqueues lost jobs. */
    sweepIntervalMs: number;
    /** Rotations one sweep statement creates at most; a sweep repeats it until no due credential is left. */
    sweepBatch: number;
    /** Rotation jobs one worker process runs at once, per store. */
    concurrency: number;
    /** Tries of a rotation before it is `failed` and waits for a person (POST /v1/rotations/:id/retry). */
    maxAttempts: number;
    /** Wait before the first retry; doubled per failure up to `retryMaxMs`. */
    retryBaseMs: number;
    retryMaxMs: number;
    /** Rotation jobs started per minute (per `rateWindowMs`) per store: a BullMQ limiter on each store's queue, so bursts never flood Vault or AWS. */
    ratePerMinute: Record<SecretStoreName, number>;
    /** The limiter's window: a minute, unless shortened (tests). */
    rateWindowMs: number;
    /** How long a worker's lock on a rotation job lasts without renewal: a crashed worker's job runs again after it; `jobs.lockMs` unless set. */
    jobLockMs: number;
    /**
     * A running rotation untouched this long has its job checked by the job sweep (and
     * re-enqueued if it was lost): long enough for the enqueue that follows its commit.
     */
    staleAfterMs: number;
  };
  leaks: {
    /**
     * The JSON file of GitHub's secret-scanning public keys (`{ public_keys: [{ key_identifier, key, is_current }] }`);
     * null: the GitHub partner endpoint is off (404).
     */
    githubKeysFile: string | null;
    /** What a leak reported by a scanner (GitHub) does to a credential whose valid version it names. */
    action: LeakAction;
  };
  /** The enforcement hot path: verify, authz, rate limits, usage (src/enforcement). */
  enforcement: {
    /** The status /v1/authz answers a rate-limited call with: 429 (with Retry-After), or 403 for nginx, which passes only 401/403 on. */
    authzRateLimitedStatus: 429 | 403;
    /** How long a verification waits for Redis's rate-limit answer before treating Redis as down. */
    rateLimitTimeoutMs: number;
    /** What a verification does when Redis is down: let the call through uncounted, or refuse it as RATE_LIMITED. */
    rateLimitOnRedisError: 'allow' | 'deny';
    /** Unknown key hashes a replica remembers at most (they are dropped at every credential change anyway). */
    maxUnknownKeys: number;
    /** How often buffered usage is written to Postgres, and how many distinct rollup rows start a write early. */
    usageFlushIntervalMs: number;
    usageFlushMaxEntries: number;
  };
  /**
   * The OAuth 2.0 authorization server for `oauth_client` credentials (src/oauth): the `iss` and `aud` of its
   * access tokens, their lifetime, and how long each signing key signs before the next one takes over.
   */
  oauth: { issuer: string; audience: string; tokenTtlSeconds: number; signingKeyDays: number };
  /** Per-call usage records and gateway-reported usage (src/usage). */
  usage: {
    /** Days per-call records are kept (whole day partitions older than this are dropped). */
    retentionDays: number;
    /** How often the scheduler creates the coming days' partitions and drops expired ones. */
    partitionSweepIntervalMs: number;
    /** How far ahead of the service's clock a reported event's time may be (gateway clocks drift). */
    maxClockSkewMs: number;
  };
  /** Anomaly alerts (src/alerts): detection thresholds and the volume-spike sweep. */
  alerts: {
    /** Denials of one credential in one minute that raise `auth_failures`. */
    authFailuresPerMinute: number;
    /** Calls in an hour below which no `volume_spike` is raised, whatever the baseline. */
    spikeMinCalls: number;
    /** How often the scheduler evaluates closed hours for volume spikes (and prunes detection state). */
    sweepIntervalMs: number;
    /**
     * Sightings waiting to be raised at most (one per type and credential: a repeat coalesces into the waiting
     * one). Past it, detection waits for room, holding the usage recorder's next write (src/alerts/alert-backlog.ts).
     */
    backlogMax: number;
  };
  /** How long a stop (SIGTERM, SIGINT) may take at most, whatever Redis and Postgres do; then what is left is abandoned. */
  shutdown: { timeoutMs: number };
}

/** How the Vault and AWS adapters call out: per-request timeout, attempts and backoff base. */
export interface RemoteStoreCalls {
  timeoutMs: number;
  maxAttempts: number;
  retryBaseDelayMs: number;
}
/** Secrets a development machine may generate for itself; production must be given them. */
export interface GeneratedDevSecrets {
  ADMIN_TOKEN: string;
  LOCAL_STORE_KEY: string;
}
