import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { type CompactJWSHeaderParameters, CompactSign, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { DataSource } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { outsideRequestContext } from '../common/async/outside-request-context';
import { Clock } from '../common/clock/clock';
import { NotFoundError } from '../common/errors/domain-error';
import { RandomSource } from '../common/random/random-source';
import { AppConfig } from '../config/app-config';
import { CredentialChangeNotifier } from '../enforcement/credential-change-notifier.service';
import type { Credential } from '../inventory/credential';
import { CredentialsService } from '../inventory/credentials.service';
import { RotationsService } from '../rotation/rotations.service';
import { OAuthError } from './oauth-errors';
import { RevokedTokensRepository } from './revoked-tokens.repository';
import { SigningKeysService } from './signing-keys.service';
import { TokenClientCache, TokenClientState } from './token-client-cache';

/** RFC 9068 §2.1: the `typ` of a JWT access token. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';
const UTF8 = new TextEncoder();
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** What a verified access token stands for: the credential as it is now, and what the token grants. */
export interface ActiveAccessToken {
  valid: true;
  code: 'VALID';
  credentialId: string;
  clientId: string;
  agentId: string;
  ownerId: string;
  environment: Credential['environment'];
  /** The token's scopes still held by the credential (a scope cut since issuance is no longer granted). */
  scopes: string[];
  ipAllowlist: string[];
  rateLimit: { requests: number; perSeconds: number };
  jti: string;
  iat: number;
  exp: number;
  iss: string;
  aud: string;
  sub: string;
}

/**
 * Why a presented token is not valid, in the words of POST /v1/verify (`code`), with the detail (`reason`):
 * MALFORMED (not one of our JWTs: structure, algorithm, `typ`, signature, unknown key, issuer or audience),
 * RETIRED (expired), NOT_FOUND (its credential is gone or not active), REVOKED (its credential was revoked,
 * or rotated with `immediate` after the token was issued, or the token itself was revoked).
 */
export interface InvalidAccessToken {
  valid: false;
  code: 'MALFORMED' | 'RETIRED' | 'NOT_FOUND' | 'REVOKED';
  reason:
    | 'not_a_jwt'
    | 'algorithm'
    | 'type'
    | 'unknown_key'
    | 'signature'
    | 'claims'
    | 'issuer'
    | 'audience'
    | 'expired'
    | 'credential_not_found'
    | 'credential_revoked'
    | 'credential_rotated'
    | 'token_revoked';
  /** The client's credential, when the token was ours and named one (for usage records and alerts). */
  credentialId?: string;
}

export type AccessTokenVerification = ActiveAccessToken | InvalidAccessToken;

export interface IssuedAccessToken {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

/**
 * Access tokens: JWTs per RFC 9068 (`typ: at+jwt`, ES256, signed by SigningKeysService) with `iss`, `sub`
 * (the agent), `client_id`, `aud`, `scope`, `iat`, `exp`, `jti` and `credential_id`. `verify` is what
 * introspection uses and what /v1/verify and /v1/authz call for a presented token (docs/oauth.md).
 */
@Injectable()
export class AccessTokensService {
  private header: CompactJWSHeaderParameters | undefined;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly keys: SigningKeysService,
    private readonly credentials: CredentialsService,
    private readonly rotations: RotationsService,
    private readonly revoked: RevokedTokensRepository,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly config: AppConfig,
    private readonly clients: TokenClientCache,
    private readonly credentialChanges: CredentialChangeNotifier,
  ) {}

  /** The scopes a token request asks for: a subset of the credential's, all of them when `scope` is absent. */
  grantedScopes(credential: Credential, requested: string | undefined): string[] {
    if (requested === undefined || requested.trim() === '') return [...credential.scopes];
    const asked = requested.split(' ');
    if (asked.some((s) => !SCOPE_TOKEN.test(s)))
      throw new OAuthError('invalid_scope', 'scope must be scope tokens separated by single spaces.');
    const held = new Set(credential.scopes);
    const missing = asked.filter((s) => !held.has(s));
    if (missing.length) throw new OAuthError('invalid_scope', `The client does not hold scope ${missing[0]}.`);
    return [...new Set(asked)];
  }

  async issue(credential: Credential, scopes: string[]): Promise<IssuedAccessToken> {
    const { kid, privateKey } = await this.keys.signingKey();
    const iat = Math.floor(this.clock.now().getTime() / 1000);
    const ttl = this.config.oauth.tokenTtlSeconds;
    const scope = scopes.join(' ');
    // jose's CompactSign over claims we build ourselves, with the key's protected header made once: SignJWT's
    // builder (claim setters, their checks, the header object) cost about a tenth of a token's signing CPU.
    const claims = {
      iss: this.config.oauth.issuer,
      sub: credential.agentId,
      aud: this.config.oauth.audience,
      iat,
      exp: iat + ttl,
      jti: this.random.uuid(),
      client_id: credential.clientId,
      scope,
      credential_id: credential.id,
    };
    const header = this.headerOf(kid);
    // Signed outside the request's async context: the crypto job would otherwise keep the request's store
    // past young GC (src/common/async/outside-request-context.ts).
    const token = await outsideRequestContext(() =>
      new CompactSign(UTF8.encode(JSON.stringify(claims))).setProtectedHeader(header).sign(privateKey),
    );
    return { access_token: token, token_type: 'Bearer', expires_in: ttl, scope };
  }

  /** The protected header of the tokens a key signs (RFC 9068 §2.1), made once per key. */
  private headerOf(kid: string): CompactJWSHeaderParameters {
    if (this.header?.kid !== kid) this.header = { alg: 'ES256', typ: ACCESS_TOKEN_TYPE, kid };
    return this.header;
  }

  /**
   * Checks a presented access token: our signature by a published key (ES256 only, so `alg: none` and a
   * token HMAC-signed with our public key fail), `typ`, issuer, audience, expiry, then the credential as it
   * is now (active, not rotated with `immediate` since, token not revoked). Never throws for a bad token.
   */
  async verify(token: string): Promise<AccessTokenVerification> {
    const bad = (code: InvalidAccessToken['code'], reason: InvalidAccessToken['reason'], credentialId?: string): InvalidAccessToken => ({
      valid: false,
      code,
      reason,
      ...(credentialId ? { credentialId } : {}),
    });
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      if (typeof token !== 'string' || token.length > 8192 || token.split('.').length !== 3) return bad('MALFORMED', 'not_a_jwt');
      header = decodeProtectedHeader(token);
    } catch {
      return bad('MALFORMED', 'not_a_jwt');
    }
    if (header.alg !== 'ES256') return bad('MALFORMED', 'algorithm');
    if (typeof header.typ !== 'string' || !/^(application\/)?at\+jwt$/i.test(header.typ)) return bad('MALFORMED', 'type');
    const key = typeof header.kid === 'string' ? await this.keys.verificationKey(header.kid) : null;
    if (!key) return bad('MALFORMED', 'unknown_key');
    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      // Outside the request's async context, as in `issue`.
      ({ payload } = await outsideRequestContext(() =>
        jwtVerify(token, key, {
          algorithms: ['ES256'],
          typ: ACCESS_TOKEN_TYPE,
          issuer: this.config.oauth.issuer,
          audience: this.config.oauth.audience,
          currentDate: this.clock.now(),
          requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope', 'credential_id'],
        }),
      ));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) return bad('RETIRED', 'expired');
      if (error instanceof joseErrors.JWTClaimValidationFailed) {
        if (error.claim === 'iss') return bad('MALFORMED', 'issuer');
        if (error.claim === 'aud') return bad('MALFORMED', 'audience');
        return bad('MALFORMED', 'claims');
      }
      return bad('MALFORMED', 'signature');
    }
    const { credential_id: credentialId, client_id: clientId, scope, jti, iat, exp, sub } = payload as Record<string, unknown>;
    if (typeof credentialId !== 'string' || typeof clientId !== 'string' || typeof scope !== 'string' || typeof jti !== 'string') {
      return bad('MALFORMED', 'claims');
    }
    if (!/^[0-9a-f-]{36}$/i.test(credentialId)) return bad('MALFORMED', 'claims');
    const { credential, rotatedAt, revokedJtis } = await this.clients.get(credentialId, () => this.loadClient(credentialId));
    if (!credential || credential.clientId !== clientId) return bad('NOT_FOUND', 'credential_not_found');
    if (credential.status === 'revoked') return bad('REVOKED', 'credential_revoked', credential.id);
    if (credential.status !== 'active') return bad('NOT_FOUND', 'credential_not_found', credential.id);
    if (rotatedAt && (iat as number) * 1000 < rotatedAt.getTime()) return bad('REVOKED', 'credential_rotated', credential.id);
    if (revokedJtis.has(jti)) return bad('REVOKED', 'token_revoked', credential.id);
    const held = new Set(credential.scopes);
    return {
      valid: true,
      code: 'VALID',
      credentialId: credential.id,
      clientId,
      agentId: credential.agentId,
      ownerId: credential.ownerId,
      environment: credential.environment,
      scopes: scope.split(' ').filter((s) => held.has(s)),
      ipAllowlist: credential.ipAllowlist,
      rateLimit: { requests: credential.rateLimitRequests, perSeconds: credential.rateLimitPerSeconds },
      jti,
      iat: iat as number,
      exp: exp as number,
      iss: this.config.oauth.issuer,
      aud: this.config.oauth.audience,
      sub: sub as string,
    };
  }

  /**
   * A client's state as Postgres has it now: three independent reads, at once. Kept in the replica's
   * TokenClientCache until a change of the credential (or of its revoked tokens) is notified.
   */
  private async loadClient(credentialId: string): Promise<TokenClientState> {
    const [credential, rotatedAt, revokedJtis] = await Promise.all([
      this.credentials.find(credentialId).catch((error: unknown) => {
        if (error instanceof NotFoundError) return null;
        throw error;
      }),
      this.rotations.lastImmediateRotationAt(credentialId),
      this.revoked.jtisOf(credentialId),
    ]);
    return { credential, rotatedAt, revokedJtis: new Set(revokedJtis) };
  }

  /**
   * RFC 7009: revokes a token the client presents, if it is a live token of that client; anything else
   * (another client's token, garbage, an expired token) changes nothing, and the answer is the same.
   */
  async revoke(client: Credential, token: string, requestId: string): Promise<void> {
    const result = await this.verify(token);
    if (!result.valid || result.credentialId !== client.id) return;
    const now = this.clock.now();
    await this.dataSource.transaction(async (em) => {
      const inserted = await this.revoked.insert(em, {
        jti: result.jti,
        credentialId: client.id,
        revokedAt: now,
        expiresAt: new Date(result.exp * 1000),
      });
      if (!inserted) return;
      // Every replica's TokenClientCache drops the client at commit, so the token is refused at once everywhere.
      await this.credentialChanges.notify(em, [client.id]);
      await this.audit.record(
        em,
        { actor: { tokenId: `oauth-client:${client.clientId}`, role: 'system', ownerId: client.ownerId, gatewayId: null }, requestId },
        {
          action: 'oauth.access_token_revoked',
          targetType: 'credential',
          targetId: client.id,
          data: { jti: result.jti, clientId: client.clientId, expiresAt: new Date(result.exp * 1000).toISOString() },
        },
      );
    });
  }
}
