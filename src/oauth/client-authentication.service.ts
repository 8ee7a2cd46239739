import { createHash, timingSafeEqual } from 'node:crypto';

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createLocalJWKSet, decodeJwt, type JSONWebKeySet, jwtVerify } from 'jose';
import { DataSource } from 'typeorm';

import { outsideRequestContext } from '../common/async/outside-request-context';
import { Clock } from '../common/clock/clock';
import { JobQueues } from '../common/jobs/job-queues';
import { AppConfig } from '../config/app-config';
import type { Credential } from '../inventory/credential';
import { CredentialsService } from '../inventory/credentials.service';
import { CLIENT_ASSERTION_ALGORITHMS } from '../inventory/jwks-policy';
import { RotationsService } from '../rotation/rotations.service';
import { addressAllowed } from './client-address';
import { ClientAuthCache } from './client-auth-cache';
import { ChallengeScheme, clientAuthenticationFailed, OAuthError } from './oauth-errors';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** RFC 7523 assertions may live at most this long ahead of now. */
export const MAX_ASSERTION_LIFETIME_S = 300;
const CLOCK_TOLERANCE_S = 30;

/**
 * Each credential's registered JWK set as jose's local JWKS, which imports a key once and keeps it: made
 * once per Credential object. The objects come from ClientAuthCache, which hands out a new one after any
 * change of the credential is notified, so a replaced JWK set is never answered from here.
 */
const clientKeySets = new WeakMap<Credential, ReturnType<typeof createLocalJWKSet>>();

function clientKeySet(credential: Credential): ReturnType<typeof createLocalJWKSet> {
  let keySet = clientKeySets.get(credential);
  if (!keySet) {
    keySet = createLocalJWKSet(credential.jwks as unknown as JSONWebKeySet);
    clientKeySets.set(credential, keySet);
  }
  return keySet;
}

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** The parameters of a form-encoded OAuth request, each given at most once. */
export type OAuthParams = Record<string, string | undefined>;

export interface AuthenticatedClient {
  credential: Credential;
  method: ClientAuthMethod;
}

/**
 * Client authentication for the token, introspection and revocation endpoints (RFC 6749 §2.3,
 * RFC 7523 §2.2): `client_secret_basic`, `client_secret_post`, or `private_key_jwt` against the JWK set the
 * credential registered. The client id is the credential's `clientId`; a secret is its current version or
 * one rotation keeps valid beside it (in its grace period), compared by SHA-256 in constant time. Neither a
 * secret nor an assertion is kept, logged or put in an error. Revoked, pending and rejected credentials
 * fail as unknown clients do; the credential's IP allowlist applies.
 */
@Injectable()
export class ClientAuthenticationService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly credentials: CredentialsService,
    private readonly rotations: RotationsService,
    private readonly queues: JobQueues,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly cache: ClientAuthCache,
  ) {}

  /** The audiences an assertion may name: the issuer, or the endpoint it is presented to (RFC 7523 §3). */
  private audiencesFor(endpoint: string): string[] {
    return [this.config.oauth.issuer, `${this.config.oauth.issuer}${endpoint}`];
  }

  async authenticate(
    params: OAuthParams,
    authorization: string | undefined,
    clientAddress: string,
    endpoint: '/oauth/token' | '/oauth/introspect' | '/oauth/revoke',
  ): Promise<AuthenticatedClient> {
    const basic = typeof authorization === 'string' && /^basic\s/i.test(authorization) ? parseBasic(authorization) : null;
    const challenge: ChallengeScheme = basic ? 'Basic' : null;
    const methods = [basic, params.client_secret, params.client_assertion].filter((m) => m !== null && m !== undefined).length;
    if (methods > 1) throw new OAuthError('invalid_request', 'Use exactly one client authentication method.', challenge);

    let result: AuthenticatedClient;
    if (basic) {
      if (params.client_id !== undefined && params.client_id !== basic.clientId) {
        throw new OAuthError(
          'invalid_request',
          'client_id does not match the client authenticated by the Authorization header.',
          challenge,
        );
      }
      result = { credential: await this.bySecret(basic.clientId, basic.secret, challenge), method: 'client_secret_basic' };
    } else if (params.client_secret !== undefined) {
      if (!params.client_id) throw new OAuthError('invalid_request', 'client_secret_post needs client_id.');
      result = { credential: await this.bySecret(params.client_id, params.client_secret, null), method: 'client_secret_post' };
    } else if (params.client_assertion !== undefined) {
      if (params.client_assertion_type !== CLIENT_ASSERTION_TYPE) {
        throw new OAuthError('invalid_request', `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}.`);
      }
      result = { credential: await this.byAssertion(params.client_assertion, params.client_id, endpoint), method: 'private_key_jwt' };
    } else {
      if (authorization !== undefined && !/^bearer\s/i.test(authorization)) {
        throw new OAuthError('invalid_client', 'The Authorization header is not HTTP Basic client authentication.');
      }
      throw new OAuthError(
        'invalid_client',
        'Client authentication is required (client_secret_basic, client_secret_post or private_key_jwt).',
      );
    }
    if (!addressAllowed(clientAddress, result.credential.ipAllowlist)) {
      throw new OAuthError('unauthorized_client', "The request comes from an address outside the client's IP allowlist.", challenge);
    }
    return result;
  }

  private async bySecret(clientId: string, secret: string, challenge: ChallengeScheme): Promise<Credential> {
    const presented = createHash('sha256').update(secret, 'utf8').digest();
    const credential = await this.activeClient(clientId, challenge);
    if (credential.secretSha256 && digestsEqual(presented, credential.secretSha256)) return credential;
    // Not the current version: perhaps one a rotation keeps valid beside it.
    const valid = await this.rotations.validSecretSha256s(this.dataSource.manager, [credential], this.clock.now());
    for (const sha256 of valid.get(credential.id) ?? []) if (digestsEqual(presented, sha256)) return credential;
    throw clientAuthenticationFailed(challenge);
  }

  private async byAssertion(assertion: string, clientIdParam: string | undefined, endpoint: string): Promise<Credential> {
    let claims: ReturnType<typeof decodeJwt>;
    try {
      claims = decodeJwt(assertion);
    } catch {
      throw new OAuthError('invalid_client', 'client_assertion is not a JWT.');
    }
    const clientId = claims.iss;
    if (typeof clientId !== 'string' || (clientIdParam !== undefined && clientIdParam !== clientId)) throw clientAuthenticationFailed(null);
    const credential = await this.activeClient(clientId, null);
    if (!credential.jwks || credential.jwks.keys.length === 0) throw clientAuthenticationFailed(null);
    const now = this.clock.now();
    let verified: Awaited<ReturnType<typeof jwtVerify>>;
    try {
      // Outside the request's async context, as access tokens are (src/common/async/outside-request-context.ts).
      const keySet = clientKeySet(credential);
      const audience = this.audiencesFor(endpoint);
      verified = await outsideRequestContext(() =>
        jwtVerify(assertion, keySet, {
          issuer: clientId,
          subject: clientId,
          audience,
          algorithms: [...CLIENT_ASSERTION_ALGORITHMS],
          currentDate: now,
          clockTolerance: CLOCK_TOLERANCE_S,
          requiredClaims: ['exp', 'jti'],
        }),
      );
    } catch {
      throw clientAuthenticationFailed(null);
    }
    const { exp, jti, iat } = verified.payload;
    const nowS = Math.floor(now.getTime() / 1000);
    if (exp! > nowS + MAX_ASSERTION_LIFETIME_S + CLOCK_TOLERANCE_S) {
      throw new OAuthError('invalid_client', `The client assertion expires more than ${MAX_ASSERTION_LIFETIME_S} seconds ahead.`);
    }
    if (iat !== undefined && iat > nowS + CLOCK_TOLERANCE_S)
      throw new OAuthError('invalid_client', 'The client assertion is issued in the future.');
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) throw clientAuthenticationFailed(null);
    // Single use within its lifetime: the first presentation claims the jti until the assertion expires.
    const ttlMs = Math.max(1000, (exp! + CLOCK_TOLERANCE_S - nowS) * 1000);
    const key = `${this.queues.prefix}:oauth:assertion-jti:${createHash('sha256').update(`${clientId}\n${jti}`).digest('hex')}`;
    const claimed = await this.queues.redis().set(key, '1', 'PX', ttlMs, 'NX');
    if (claimed !== 'OK') throw new OAuthError('invalid_client', 'The client assertion was used before (jti replay).');
    return credential;
  }

  /**
   * A credential that may authenticate: active; any other state fails as an unknown client does. Known
   * clients come from the replica's ClientAuthCache (src/oauth/client-auth-cache.ts), kept exact by the
   * credential-change NOTIFY; unknown ones are read from Postgres each time.
   */
  private async activeClient(clientId: string, challenge: ChallengeScheme): Promise<Credential> {
    const credential = clientId.length <= 200 ? await this.cache.get(clientId, () => this.credentials.findByClientId(clientId)) : null;
    if (!credential || credential.status !== 'active') throw clientAuthenticationFailed(challenge);
    return credential;
  }
}

/** RFC 6749 §2.3.1: `Basic base64(urlencode(client_id) ":" urlencode(client_secret))`. */
function parseBasic(header: string): { clientId: string; secret: string } {
  const encoded = header.replace(/^basic\s+/i, '').trim();
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || colon < 0) {
    throw new OAuthError('invalid_client', 'The Authorization header is not valid HTTP Basic authentication.', 'Basic');
  }
  try {
    return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    throw new OAuthError('invalid_client', 'The Authorization header is not valid HTTP Basic authentication.', 'Basic');
  }
}

function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

function digestsEqual(presented: Buffer, storedHex: string): boolean {
  const stored = Buffer.from(storedHex, 'hex');
  return stored.length === presented.length && timingSafeEqual(stored, presented);
}
