import { Controller, Get, Header, HttpCode, Post, Req, Res, UseFilters } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBody, ApiConsumes, ApiOkResponse, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { Public } from '../auth/decorators';
import { ApiOp, ApiProblems } from '../common/http/api-docs';
import {
  AccessTokenResponseDto,
  AuthorizationServerMetadataDto,
  IntrospectionResponseDto,
  JwksDto,
  OAuthErrorDto,
  TOKEN_PARAM_SCHEMA,
  TOKEN_REQUEST_SCHEMA,
} from './dto/oauth.dto';
import { OAuthService } from './oauth.service';
import { OAuthErrorFilter } from './oauth-error.filter';
import { answerIntrospect, answerToken } from './oauth-http';

const FORM = 'application/x-www-form-urlencoded';

/**
 * The OAuth 2.0 endpoints for `oauth_client` credentials: token (RFC 6749 §4.4), introspection (RFC 7662)
 * and revocation (RFC 7009). They take form bodies and authenticate the client themselves (no API token,
 * except a gateway's or admin's at introspection); errors are RFC 6749 JSON, never cached.
 *
 * `token` and `introspect` declare their routes (and their OpenAPI description) here, but in the app the
 * request is answered by the plain Fastify handler that src/oauth/oauth-http.ts puts in place of Nest's,
 * with the same answers; these methods serve only an app set up without it (configureApp installs it).
 */
@ApiTags('oauth')
@Controller('oauth')
@UseFilters(OAuthErrorFilter)
export class OAuthController {
  constructor(private readonly oauth: OAuthService) {}

  @Post('token')
  @Public()
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @Header('pragma', 'no-cache')
  @ApiOp('issueAccessToken', 'Exchange client credentials for an access token (client_credentials grant)', {
    security: [],
    description:
      'Client authentication: client_secret_basic, client_secret_post or private_key_jwt (RFC 7523). ' +
      "The credential's IP allowlist and rate limit apply (past the limit: 429 temporarily_unavailable with Retry-After).",
  })
  @ApiConsumes(FORM)
  @ApiBody({ schema: TOKEN_REQUEST_SCHEMA })
  @ApiOkResponse({ type: AccessTokenResponseDto })
  @ApiBadRequestResponse({
    type: OAuthErrorDto,
    description: 'invalid_request, invalid_scope, unsupported_grant_type, unauthorized_client',
  })
  @ApiUnauthorizedResponse({ type: OAuthErrorDto, description: 'invalid_client (WWW-Authenticate: Basic when Basic was used)' })
  @ApiProblems(413, 415, 503)
  token(@Req() request: FastifyRequest): Promise<AccessTokenResponseDto> {
    return answerToken(this.oauth, request);
  }

  @Post('introspect')
  @Public()
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @Header('pragma', 'no-cache')
  @ApiOp('introspectAccessToken', 'Whether an access token is active, and what it grants (RFC 7662)', {
    security: [],
    description:
      'The caller authenticates as the client (as at the token endpoint; a client sees only its own tokens as active) ' +
      'or with `Authorization: Bearer <gateway or admin token>`. An inactive token answers only `{ "active": false }`.',
  })
  @ApiConsumes(FORM)
  @ApiBody({ schema: TOKEN_PARAM_SCHEMA })
  @ApiOkResponse({ type: IntrospectionResponseDto })
  @ApiBadRequestResponse({ type: OAuthErrorDto, description: 'invalid_request' })
  @ApiUnauthorizedResponse({ type: OAuthErrorDto, description: 'invalid_client, or invalid_token for an unknown bearer token' })
  @ApiProblems(413, 415, 503)
  introspect(@Req() request: FastifyRequest): Promise<IntrospectionResponseDto> {
    return answerIntrospect(this.oauth, request);
  }

  @Post('revoke')
  @Public()
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @Header('pragma', 'no-cache')
  @ApiOp('revokeAccessToken', 'Revoke an access token of the authenticated client (RFC 7009)', {
    security: [],
    description: 'Answers 200 with an empty body whether or not the token was valid, live or the caller’s.',
  })
  @ApiConsumes(FORM)
  @ApiBody({ schema: TOKEN_PARAM_SCHEMA })
  @ApiOkResponse({ description: 'Revoked, or nothing to revoke' })
  @ApiBadRequestResponse({ type: OAuthErrorDto, description: 'invalid_request' })
  @ApiUnauthorizedResponse({ type: OAuthErrorDto, description: 'invalid_client' })
  @ApiProblems(413, 415, 503)
  async revoke(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    await this.oauth.revoke(request.body, request.headers.authorization, request.ip, request.headers['content-type'], String(request.id));
    void reply.header('content-type', 'application/json; charset=utf-8');
  }
}

/** RFC 8414 metadata and the JWKS gateways verify access tokens with. */
@ApiTags('oauth')
@Controller('.well-known')
export class WellKnownController {
  constructor(private readonly oauth: OAuthService) {}

  @Get('oauth-authorization-server')
  @Public()
  @Header('cache-control', 'public, max-age=3600')
  @ApiOp('getAuthorizationServerMetadata', 'OAuth 2.0 authorization server metadata (RFC 8414)', { security: [] })
  @ApiOkResponse({ type: AuthorizationServerMetadataDto })
  @ApiProblems(503)
  metadata(): AuthorizationServerMetadataDto {
    return this.oauth.metadata();
  }

  @Get('jwks.json')
  @Public()
  @ApiOp('getJwks', 'The public keys access tokens are signed with (JWK set)', {
    security: [],
    description:
      'Cacheable for 300 s; a new key appears here at least 600 s before it signs, and an old one stays until its last token has expired.',
  })
  @ApiOkResponse({ type: JwksDto })
  @ApiProblems(503)
  async jwks(@Res({ passthrough: true }) reply: FastifyReply): Promise<JwksDto> {
    const { body, maxAgeSeconds } = await this.oauth.jwks();
    void reply.header('cache-control', `public, max-age=${maxAgeSeconds}`);
    return body;
  }
}
