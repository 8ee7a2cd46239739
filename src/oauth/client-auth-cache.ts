import { Injectable } from '@nestjs/common';

import { NotifiedCache } from '../common/cache/notified-cache';
import type { Credential } from '../inventory/credential';

/** Clients a replica remembers at most; past it the cache starts again empty. */
const MAX_CLIENTS = 50_000;

/**
 * A replica's memory of each OAuth client's credential by client id (status, current secret's SHA-256,
 * scopes, IP allowlist, rate limit, JWK set): what authenticating a client at /oauth/token, /oauth/introspect
 * and /oauth/revoke needs (src/oauth/client-authentication.service.ts), so that a token request of a known
 * client reads no Postgres. An unknown client id is not kept (a new client works at once).
 *
 * Kept exact the way TokenClientCache is, by the credential-change NOTIFY sent inside every transaction that
 * changes a credential (revocation, approval, update, each rotation step): the replica's listener
 * (src/enforcement/credential-change-listener.service.ts) drops a client from this cache and from
 * TokenClientCache (src/oauth/token-client-cache.ts) together, at commit on the replica that made the change,
 * and switches both off while its connection is lost.
 *
 * Only the current secret is answered from memory: a secret that rotation keeps valid beside it (grace
 * period, published new version) is checked against Postgres as before, since its validity ends with time.
 */
@Injectable()
export class ClientAuthCache extends NotifiedCache<Credential | null> {
  constructor() {
    super(MAX_CLIENTS, (credential) => credential?.id ?? null);
  }
}
