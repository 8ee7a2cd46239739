import { DAY_MS } from '../common/clock/clock';

/**
 * What a review item shows of its credential's use, and the decision it
 * recommends, computed when the campaign opens inside the one INSERT ... SELECT
 * that snapshots the credentials (src/reviews/review-items.repository.ts), and
 * kept on the item: the owner decides, and an auditor later reads, exactly
 * what was shown then.
 *
 * Usage comes from the enforcement module's view credential_usage_daily
 * (migrations/1796534811799-UsageDaily.ts) over the daily rollups of verify,
 * authz and gateway-reported calls, so the windows are whole UTC days: "the 90
 * days before the open" is from the start of the UTC day 90 days before it to
 * the open (up to a day more than 90 × 24 hours, never less), likewise 30:
 * - `calls_30d`, `calls_90d`: calls that were allowed in the 30 and 90 days
 *   before the open. A refused call (wrong scope, address outside the
 *   allowlist, rate limited, a retired or revoked version) is not a use;
 * - `denied_90d`: the refused calls of those 90 days, shown beside them;
 * - `scopes_used_90d`: the credential's scopes (as granted at open) that an
 *   allowed call named in those 90 days, sorted. A refused call never marks a
 *   scope used, so a SCOPE_DENIED call on a scope the credential lacks cannot
 *   make a scope it has look used; a call that named no scope marks none.
 *
 * The recommendation:
 * - `revoke`: no call allowed in the 90 days, for a credential issued at least
 *   90 days before the open;
 * - `reduce` to `scopes_used_90d`: used, and some granted scope was never used;
 * - `keep` otherwise: every granted scope used; used only by calls that named
 *   no scope (which scopes it needs is unknown); or issued less than 90 days
 *   before the open and not used yet (too new to judge; `never_used` still
 *   flags it).
 * Each expression reads `c`, the credential row with its usage columns.
 */
export const USAGE_WINDOW_DAYS = 90;
export const RECENT_WINDOW_DAYS = 30;

/**
 * The first UTC day of a window of `days` days ending at `openedAt`: the start
 * of the UTC day `days` days before it. Computed here and passed as a
 * parameter, so the open's filter compares a constant, not a per-row
 * date_trunc with a time zone (which Postgres evaluates for every row).
 */
export function windowStart(openedAt: Date, days: number): Date {
  return new Date(Math.floor((openedAt.getTime() - days * DAY_MS) / DAY_MS) * DAY_MS);
}

export const RECOMMENDATIONS = ['keep', 'reduce', 'revoke'] as const;
export type Recommendation = (typeof RECOMMENDATIONS)[number];

/** Used in the window, with a known set of used scopes that leaves some granted scope out. */
export const unusedScopesSql = `(c.calls_90d > 0 AND cardinality(c.scopes_used_90d) > 0 AND cardinality(c.scopes_used_90d) < cardinality(c.scopes))`;

/** The granted scopes no allowed call named, sorted. */
const unusedScopes = `ARRAY(SELECT s FROM unnest(c.scopes) AS s WHERE s <> ALL (c.scopes_used_90d) ORDER BY s)`;

/** `now`: the campaign's open time as a SQL timestamptz expression. */
export function recommendationSql(now: string): { decision: string; scopes: string; reason: string } {
  const old = `(c.created_at <= ${now} - interval '${USAGE_WINDOW_DAYS} days')`;
  const revoke = `(c.calls_90d = 0 AND ${old})`;
  return {
    decision: `CASE WHEN ${revoke} THEN 'revoke' WHEN ${unusedScopesSql} THEN 'reduce' ELSE 'keep' END`,
    scopes: `CASE WHEN ${unusedScopesSql} AND NOT ${revoke} THEN c.scopes_used_90d END`,
    reason: `CASE
      WHEN ${revoke} THEN format('No call was allowed in the ${USAGE_WINDOW_DAYS} days before the campaign opened%s.',
        CASE WHEN c.denied_90d > 0 THEN format(' (%s refused)', c.denied_90d) ELSE '' END)
      WHEN ${unusedScopesSql} THEN format('Used in the last ${USAGE_WINDOW_DAYS} days, but never with %s.', array_to_string(${unusedScopes}, ', '))
      WHEN c.calls_90d = 0 THEN format('Issued %s, less than ${USAGE_WINDOW_DAYS} days before the campaign opened, and no call allowed yet: too new to judge.',
        to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'))
      WHEN cardinality(c.scopes_used_90d) = 0 THEN 'Used in the last ${USAGE_WINDOW_DAYS} days, but its calls named no scope, so which scopes it needs is unknown.'
      ELSE 'Every granted scope was used in the last ${USAGE_WINDOW_DAYS} days.'
    END`,
  };
}
