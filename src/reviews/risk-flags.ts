import { unusedScopesSql } from './usage-recommendation';

/**
 * Risk flags of a review item, computed once when its campaign opens, in SQL,
 * so 100,000 credentials are flagged inside the one INSERT ... SELECT that
 * snapshots them. Each flag is a SQL predicate over the columns of the
 * inventory's credential_review_source view
 * (migrations/1795463000000-CredentialReadViews.ts) and the usage the open
 * aggregates beside them (`calls_30d`, `calls_90d`, `denied_90d`,
 * `scopes_used_90d`: see usage-recommendation.ts); `c` is their alias.
 */
export const RISK_FLAGS = [
  'delete_scope',
  'admin_scope',
  'write_scope',
  'no_ip_allowlist_production',
  'rotation_overdue',
  'never_used',
  'unused_30d',
  'high_rate_limit',
  'unused_scopes',
] as const;
export type RiskFlag = (typeof RISK_FLAGS)[number];

/** Placeholders the flag predicates use, bound by the caller. */
export interface RiskFlagParams {
  /** The campaign's open time. */
  now: string;
  /** Requests per second above which `high_rate_limit` is raised. */
  highRateLimitPerSecond: string;
  /** uuid[] of the credentials whose latest rotation failed (a failed rotation holds the next version until retried). */
  failedRotationCredentialIds: string;
}

const UNUSED_DAYS = 30;

const hasOperation = (operation: string) => `EXISTS (SELECT 1 FROM unnest(c.scopes) AS s(scope) WHERE s.scope LIKE '%:${operation}')`;

/**
 * Whether rotation is overdue: the next rotation is in the past, or the
 * credential's latest rotation failed (it keeps its old secret until someone
 * retries). The one place that decides it.
 */
export function rotationOverdueSql(p: RiskFlagParams): string {
  return `((c.next_rotation_at IS NOT NULL AND c.next_rotation_at < ${p.now}) OR c.credential_id = ANY (${p.failedRotationCredentialIds}))`;
}

export function riskFlagPredicates(p: RiskFlagParams): Record<RiskFlag, string> {
  return {
    delete_scope: hasOperation('delete'),
    admin_scope: hasOperation('admin'),
    write_scope: hasOperation('write'),
    no_ip_allowlist_production: `(c.environment = 'production' AND cardinality(c.ip_allowlist) = 0)`,
    rotation_overdue: rotationOverdueSql(p),
    // No call ever accepted its key (lastUsedAt), and none allowed in the rollups of the last 90 days.
    never_used: `(c.last_used_at IS NULL AND c.calls_90d = 0)`,
    // No call allowed in the 30 days before the open, for a credential that existed all that time.
    unused_30d: `(c.calls_30d = 0 AND c.created_at < ${p.now} - interval '${UNUSED_DAYS} days')`,
    high_rate_limit: `(c.rate_limit_requests::numeric / c.rate_limit_per_seconds > ${p.highRateLimitPerSecond})`,
    unused_scopes: unusedScopesSql,
  };
}

/** A text[] expression of the flags that hold, in RISK_FLAGS order. */
export function riskFlagsSql(p: RiskFlagParams): string {
  const predicates = riskFlagPredicates(p);
  const cases = RISK_FLAGS.map((flag) => `CASE WHEN ${predicates[flag]} THEN '${flag}' END`);
  return `array_remove(ARRAY[${cases.join(', ')}]::text[], NULL)`;
}
