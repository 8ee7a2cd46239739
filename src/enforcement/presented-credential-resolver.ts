import { createHash } from 'node:crypto';

import { Injectable } from '@nestjs/common';

import { isWellFormedSecret } from '../inventory/credential-secret';

/**
 * A presented credential, reduced to what verification may keep of it: an API
 * key's SHA-256 (never the key), or an access token to verify (held in memory
 * for the call only, never stored, logged or recorded).
 */
export type PresentedCredential = { kind: 'api_key'; sha256: string } | { kind: 'access_token'; token: string } | { kind: 'malformed' };

/** Longer than any key or access token this service issues: refused without hashing. */
const MAX_PRESENTED_LENGTH = 4096;

/** A JWT in compact form: three base64url parts (the last may be empty, as in `alg: none`, which the verifier refuses). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Recognises what an agent presented: an API key (`agk_live_` / `agk_test_`)
 * whose checksum holds, reduced to its SHA-256; or a JWT-shaped value, an
 * OAuth access token that the oauth module's AccessTokensService verifies
 * (src/oauth/access-tokens.service.ts). Anything else is MALFORMED and is
 * answered without a lookup.
 */
@Injectable()
export class PresentedCredentialResolver {
  resolve(presented: string): PresentedCredential {
    if (presented.length === 0 || presented.length > MAX_PRESENTED_LENGTH) return { kind: 'malformed' };
    if (presented.startsWith('agk_')) {
      if (!isWellFormedSecret(presented)) return { kind: 'malformed' };
      return { kind: 'api_key', sha256: createHash('sha256').update(presented, 'utf8').digest('hex') };
    }
    if (JWT_SHAPE.test(presented)) return { kind: 'access_token', token: presented };
    return { kind: 'malformed' };
  }
}
