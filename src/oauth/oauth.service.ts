import { Injectable } from '@nestjs/common';

import type { Actor } from '../auth/actor';
import { TokensService } from '../auth/tokens.service';
import { RateLimiter } from '../common/rate-limit/rate-limiter';
import { AppConfig } from '../config/app-config';
import { CLIENT_ASSERTION_ALGORITHMS } from '../inventory/jwks-policy';
import { AccessTokensService } from './access-tokens.service';
import { ClientAuthenticationService, OAuthParams } from './client-authentication.service';
import type { AccessTokenResponseDto, AuthorizationServerMetadataDto, IntrospectionResponseDto, JwksDto } from './dto/oauth.dto';
import { OAuthError } from './oauth-errors';
import { JWKS_MAX_AGE_SECONDS, SigningKeysService } from './signing-keys.service';

const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];
/** Roles whose API token may introspect: gateways (checking the tokens agents present to them) and admins. */
const INTROSPECTING_ROLES: ReadonlyArray<Actor['role']> = ['gateway', 'admin'];

/**
 * The OAuth endpoints' use cases: read the form (each parameter at most once, RFC 6749 §3.1; unknown ones
 * ignored), authenticate the client, and hand over to AccessTokensService.
 */
@Injectable()
export class OAuthService {
  constructor(
    private readonly clients: ClientAuthenticationService,
    private readonly tokens: AccessTokensService,
    private readonly keys: SigningKeysService,
    private readonly rateLimit: RateLimiter,
    private readonly apiTokens: TokensService,
    private readonly config: AppConfig,
  ) {}

  async token(
    body: unknown,
    authorization: string | undefined,
    ip: string,
    contentType: string | undefined,
  ): Promise<AccessTokenResponseDto> {
    const params = formParams(body, contentType);
    const { credential } = await this.clients.authenticate(params, authorization, ip, '/oauth/token');
    if (params.grant_type === undefined) throw new OAuthError('invalid_request', 'grant_type is required.');
    if (params.grant_type !== 'client_credentials') throw new OAuthError('unsupported_grant_type', 'Only client_credentials is supported.');
    if (credential.type !== 'oauth_client') {
      throw new OAuthError('unauthorized_client', 'This credential is an api_key; only oauth_client credentials may obtain access tokens.');
    }
    const scopes = this.tokens.grantedScopes(credential, params.scope);
    // The token endpoint's own budget of the credential's limit (its calls at verify/authz are counted apart),
    // leased a few calls at a time so a busy client does not cost a Redis round trip per token
    // (RateLimiter.consumeLeased: never more than the limit, on any number of replicas).
    const limit = await this.rateLimit.consumeLeased(`token:${credential.id}`, {
      requests: credential.rateLimitRequests,
      perSeconds: credential.rateLimitPerSeconds,
    });
    if (!limit.allowed) {
      throw new OAuthError('temporarily_unavailable', "The client's rate limit is exhausted; retry later.", null, limit.retryAfterSeconds);
    }
    return this.tokens.issue(credential, scopes);
  }

  async introspect(
    body: unknown,
    authorization: string | undefined,
    ip: string,
    contentType: string | undefined,
    requestId: string,
  ): Promise<IntrospectionResponseDto> {
    void requestId;
    const params = formParams(body, contentType);
    let clientId: string | null = null;
    const bearer = typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
    if (bearer) {
      const actor = await this.apiTokens.authenticate(bearer[1]);
      if (!actor) throw new OAuthError('invalid_token', 'The bearer token is unknown or revoked.', 'Bearer');
      if (!INTROSPECTING_ROLES.includes(actor.role)) {
        throw new OAuthError('insufficient_scope', `Role ${actor.role} may not introspect tokens.`, 'Bearer');
      }
    } else {
      clientId = (await this.clients.authenticate(params, authorization, ip, '/oauth/introspect')).credential.clientId;
    }
    if (params.token === undefined || params.token === '') throw new OAuthError('invalid_request', 'token is required.');
    const result = await this.tokens.verify(params.token);
    // A client learns about its own tokens only.
    if (!result.valid || (clientId !== null && result.clientId !== clientId)) return { active: false };
    return {
      active: true,
      scope: result.scopes.join(' '),
      client_id: result.clientId,
      sub: result.sub,
      exp: result.exp,
      iat: result.iat,
      iss: result.iss,
      aud: result.aud,
      token_type: 'Bearer',
      jti: result.jti,
      credential_id: result.credentialId,
    };
  }

  async revoke(
    body: unknown,
    authorization: string | undefined,
    ip: string,
    contentType: string | undefined,
    requestId: string,
  ): Promise<void> {
    const params = formParams(body, contentType);
    const { credential } = await this.clients.authenticate(params, authorization, ip, '/oauth/revoke');
    if (params.token === undefined || params.token === '') throw new OAuthError('invalid_request', 'token is required.');
    await this.tokens.revoke(credential, params.token, requestId);
  }

  metadata(): AuthorizationServerMetadataDto {
    const issuer = this.config.oauth.issuer;
    return {
      issuer,
      token_endpoint: `${issuer}/oauth/token`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      introspection_endpoint: `${issuer}/oauth/introspect`,
      revocation_endpoint: `${issuer}/oauth/revoke`,
      grant_types_supported: ['client_credentials'],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
      token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGORITHMS],
      introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
      revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    };
  }

  async jwks(): Promise<{ body: JwksDto; maxAgeSeconds: number }> {
    return {
      body: { keys: (await this.keys.publishedKeys()) as unknown as Array<Record<string, unknown>> },
      maxAgeSeconds: JWKS_MAX_AGE_SECONDS,
    };
  }
}

/** The form's parameters: a form body is required, each parameter at most once (RFC 6749 §3.1), unknown ones kept but unused. */
function formParams(body: unknown, contentType: string | undefined): OAuthParams {
  if (typeof contentType !== 'string' || !/^\s*application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType)) {
    throw new OAuthError('invalid_request', 'The body must be application/x-www-form-urlencoded.');
  }
  const params: OAuthParams = {};
  if (body === null || typeof body !== 'object') return params;
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    if (Array.isArray(value)) throw new OAuthError('invalid_request', `${name} is given more than once.`);
    if (typeof value === 'string') params[name] = value;
  }
  return params;
}
