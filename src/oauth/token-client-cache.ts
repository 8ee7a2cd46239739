import { Injectable } from '@nestjs/common';

import { NotifiedCache } from '../common/cache/notified-cache';
import type { Credential } from '../inventory/credential';

/** What checking an access token needs of its client beyond the token: read once per client, not once per token. */
export interface TokenClientState {
  /** The credential as Postgres has it; null when there is none (not kept). */
  credential: Credential | null;
  /** The completion of its last `immediate` rotation: tokens issued before it are refused. */
  rotatedAt: Date | null;
  /** The `jti`s of its tokens that the client revoked (RFC 7009). */
  revokedJtis: ReadonlySet<string>;
}

/** Clients a replica remembers at most; past it the cache starts again empty. */
const MAX_CLIENTS = 50_000;

/**
 * A replica's memory of each OAuth client's state, by credential id, so that
 * an access-token check at introspect, verify or authz reads Postgres once per
 * client instead of three times per token. Kept exact by the credential-change
 * NOTIFY (src/enforcement/credential-change-notifier.service.ts): revocation,
 * updates and rotations of the credential send it inside their transaction,
 * and so does the revocation of one of its tokens (src/oauth/access-tokens.service.ts).
 * The listener (src/enforcement/credential-change-listener.service.ts) drops
 * the entry at commit, and drops everything and switches the cache off while
 * its connection is lost.
 */
@Injectable()
export class TokenClientCache extends NotifiedCache<TokenClientState> {
  constructor() {
    super(MAX_CLIENTS, (state) => state.credential?.id ?? null);
  }
}
