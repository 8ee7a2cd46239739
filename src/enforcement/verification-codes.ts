/** The answer codes of POST /v1/verify (and the X-Deny-Reason of /v1/authz). */
export const VERIFY_CODES = [
  'VALID',
  'MALFORMED',
  'NOT_FOUND',
  'REVOKED',
  'RETIRED',
  'ENVIRONMENT_MISMATCH',
  'SCOPE_DENIED',
  'IP_DENIED',
  'RATE_LIMITED',
] as const;
export type VerifyCode = (typeof VERIFY_CODES)[number];

/** A scope as a gateway names it: `product:operation`. Any such name is checked; one no credential holds is SCOPE_DENIED. */
export const SCOPE_PATTERN = /^[a-z][a-z0-9-]{1,62}:[a-z]{1,32}$/;

/** The codes that mean the key itself was refused (no such key, or no longer valid): /v1/authz answers them 401. */
export const UNAUTHENTICATED_CODES: ReadonlySet<VerifyCode | 'MISSING_KEY'> = new Set([
  'MISSING_KEY',
  'MALFORMED',
  'NOT_FOUND',
  'REVOKED',
  'RETIRED',
]);

/** The status /v1/authz answers a verification's code with. */
export function authzStatusOf(code: VerifyCode, rateLimitedStatus: number): number {
  if (code === 'VALID') return 200;
  if (UNAUTHENTICATED_CODES.has(code)) return 401;
  if (code === 'RATE_LIMITED') return rateLimitedStatus;
  return 403;
}
