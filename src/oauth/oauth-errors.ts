/**
 * The OAuth endpoints' errors (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009, RFC 7662), answered as
 * `{ error, error_description }` JSON by OAuthErrorFilter rather than problem+json: OAuth clients parse
 * these. Each carries its RFC error code, never HTTP knowledge beyond what the code implies.
 */
export const OAUTH_ERROR_CODES = [
  'invalid_request',
  'invalid_client',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  // RFC 6749 §4.1.2.1: reused, as many servers do, for a client past its rate limit.
  'temporarily_unavailable',
  // RFC 6750 §3.1: a gateway's bearer token at the introspection endpoint is unknown, or its role may not introspect.
  'invalid_token',
  'insufficient_scope',
] as const;
export type OAuthErrorCode = (typeof OAUTH_ERROR_CODES)[number];

/** How the client tried to authenticate: decides the WWW-Authenticate challenge of an `invalid_client`. */
export type ChallengeScheme = 'Basic' | 'Bearer' | null;

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    /** Set when the client authenticated with an Authorization header of this scheme (RFC 6749 §5.2: 401 with the same scheme's challenge). */
    readonly challenge: ChallengeScheme = null,
    /** Seconds to wait, for `temporarily_unavailable`. */
    readonly retryAfterSeconds?: number,
  ) {
    super(`${error}: ${description}`);
    this.name = 'OAuthError';
  }
}

/** The client could not be authenticated: the same words whatever failed, so a caller learns nothing about which part. */
export function clientAuthenticationFailed(challenge: ChallengeScheme): OAuthError {
  return new OAuthError('invalid_client', 'Client authentication failed.', challenge);
}
