import { Injectable } from '@nestjs/common';

import { NotifiedCache } from '../common/cache/notified-cache';
import type { Actor } from './actor';

/** The Postgres channel that tells every replica an API token changed (payload: the token's id). */
export const API_TOKEN_CHANGES_CHANNEL = 'agc_api_token_changes';

/** Live tokens a replica remembers at most (each a few hundred bytes); past it the cache starts again empty. */
const MAX_TOKENS = 10_000;

/**
 * A replica's memory of authenticated API tokens: the actor of a live token by
 * the hex SHA-256 of the presented secret (never the secret). Every `/v1/authz`
 * and `/v1/verify` call authenticates the gateway's token, so without it each
 * call read Postgres once more. Unknown or revoked tokens are not kept (every
 * presentation reads Postgres), so a new token works at once. A revoked token
 * is dropped when its revocation's NOTIFY (sent inside the revoking
 * transaction, src/auth/tokens.repository.ts) reaches the replica's listener
 * (src/enforcement/credential-change-listener.service.ts); while that listener
 * is down the cache is off.
 */
@Injectable()
export class ApiTokenCache extends NotifiedCache<Actor | null> {
  constructor() {
    super(MAX_TOKENS, (actor) => actor?.tokenId ?? null);
  }
}
