import { Body, Controller, Delete, Get, HttpCode, Patch, Post, Put, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiResponse, ApiSecurity, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';

import type { Actor, RequestContext } from '../auth/actor';
import { Ctx, Public, Roles } from '../auth/decorators';
import { TokensService } from '../auth/tokens.service';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems, Problem } from '../common/http/api-docs';
import { problem, PROBLEM_CONTENT_TYPE } from '../common/http/problem';
import { AppConfig } from '../config/app-config';
import { VerifyAnswerDto, VerifyDto } from './dto/verify.dto';
import { Verification, VerificationService } from './verification.service';
import { SCOPE_PATTERN, UNAUTHENTICATED_CODES, type VerifyCode } from './verification-codes';

/** What an invalid X-Required-Scope is checked as: a name no credential holds (and safe to record). */
const UNREADABLE_SCOPE = 'invalid:scope';

const AUTHZ_DESCRIPTION =
  'Forward authentication for gateways that delegate (nginx auth_request, Traefik ForwardAuth, Envoy ext_authz HTTP). ' +
  'The gateway authenticates with X-Gateway-Token; the agent key (or OAuth access token) comes in `Authorization: Bearer` or `X-Api-Key`, the client ' +
  'address in X-Real-IP or the first X-Forwarded-For entry, the required scope in X-Required-Scope. Allowed: 200 with ' +
  'X-Agent-Id, X-Credential-Id, X-Client-Id, X-Owner-Id, X-Scopes, X-RateLimit-Limit, X-RateLimit-Remaining. Every ' +
  'denial carries X-Deny-Reason.';

/**
 * The enforcement hot path: POST /v1/verify (JSON answer, always 200) and
 * /v1/authz (the answer in the status and headers, for gateways that
 * delegate). Both are one VerificationService call.
 */
@ApiTags('enforcement')
@Controller('v1')
export class EnforcementController {
  constructor(
    private readonly verification: VerificationService,
    private readonly tokens: TokensService,
    private readonly config: AppConfig,
  ) {}

  @Post('verify')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiAuthenticatedProblems()
  @ApiOp('verifyKey', 'Verify a presented key (and scope, address, rate limit)', {
    description: 'Always 200 for a key of any shape: a bad key is an answer (`valid: false` and its `code`), not an error.',
  })
  @ApiProblems(400, 403, 413, 415)
  @Roles('gateway', 'admin')
  @ApiOkResponse({ type: VerifyAnswerDto })
  async verify(@Ctx() ctx: RequestContext, @Body() body: VerifyDto): Promise<VerifyAnswerDto> {
    const result = await this.verification.verify(ctx.actor, {
      key: body.key,
      scope: body.scope ?? null,
      ip: body.ip ?? null,
      environment: body.environment ?? null,
      call: { source: 'verify', requestId: ctx.requestId, method: null, path: null },
    });
    const { retryAfterSeconds: _retry, ...answer } = result;
    return answer;
  }

  @Get('authz')
  @Public()
  @AuthzDocs('authzGet', 'GET')
  authzGet(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.authz(request, reply);
  }

  @Post('authz')
  @Public()
  @HttpCode(200)
  @AuthzDocs('authzPost', 'POST')
  authzPost(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.authz(request, reply);
  }

  @Put('authz')
  @Public()
  @AuthzDocs('authzPut', 'PUT')
  authzPut(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.authz(request, reply);
  }

  @Patch('authz')
  @Public()
  @AuthzDocs('authzPatch', 'PATCH')
  authzPatch(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.authz(request, reply);
  }

  @Delete('authz')
  @Public()
  @AuthzDocs('authzDelete', 'DELETE')
  authzDelete(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.authz(request, reply);
  }

  // Envoy's HTTP ext_authz appends the checked request's path to `path_prefix`
  // (/v1/authz/<path>); these answer exactly as /v1/authz, the path is not read.
  @Get('authz/*')
  @Public()
  @AuthzDocs('authzPathGet', 'GET', true)
  authzPathGet(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.authz(request, reply);
  }

  @Post('authz/*')
  @Public()
  @HttpCode(200)
  @AuthzDocs('authzPathPost', 'POST', true)
  authzPathPost(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.authz(request, reply);
  }

  @Put('authz/*')
  @Public()
  @AuthzDocs('authzPathPut', 'PUT', true)
  authzPathPut(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.authz(request, reply);
  }

  @Patch('authz/*')
  @Public()
  @AuthzDocs('authzPathPatch', 'PATCH', true)
  authzPathPatch(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.authz(request, reply);
  }

  @Delete('authz/*')
  @Public()
  @AuthzDocs('authzPathDelete', 'DELETE', true)
  authzPathDelete(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.authz(request, reply);
  }

  private async authz(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const headers = request.headers;
    const actor = await this.gatewayActor(header(headers['x-gateway-token']));
    if (!actor) {
      deny(reply, request, 401, 'GATEWAY_UNAUTHENTICATED', 'X-Gateway-Token is missing, unknown, revoked or not a gateway token.');
      return;
    }
    const key = presentedKey(headers);
    if (key === null) {
      void reply.header('www-authenticate', 'Bearer error="invalid_token"');
      deny(reply, request, 401, 'MISSING_KEY', 'No key: send it in Authorization: Bearer <key> or X-Api-Key.');
      return;
    }
    const requiredScope = header(headers['x-required-scope']);
    const scope =
      requiredScope === null || requiredScope === '' ? null : SCOPE_PATTERN.test(requiredScope) ? requiredScope : UNREADABLE_SCOPE;
    const result = await this.verification.verify(actor, {
      key,
      scope,
      ip: clientAddress(headers),
      environment: null,
      call: { source: 'authz', requestId: String(request.id), ...forwardedRequest(headers) },
    });
    if (result.rateLimit) {
      void reply.header('x-ratelimit-limit', String(result.rateLimit.limit));
      void reply.header('x-ratelimit-remaining', String(result.rateLimit.remaining));
    }
    if (result.valid) {
      allow(reply, result);
      return;
    }
    if (UNAUTHENTICATED_CODES.has(result.code)) {
      void reply.header('www-authenticate', 'Bearer error="invalid_token"');
      deny(reply, request, 401, result.code, detailOf(result.code));
      return;
    }
    if (result.code === 'RATE_LIMITED') {
      void reply.header('retry-after', String(result.retryAfterSeconds ?? 1));
      deny(reply, request, this.config.enforcement.authzRateLimitedStatus, result.code, detailOf(result.code));
      return;
    }
    deny(reply, request, 403, result.code, detailOf(result.code));
  }

  /** The gateway (or admin) behind X-Gateway-Token, or null. */
  private async gatewayActor(token: string | null): Promise<Actor | null> {
    if (!token || token.length > 512) return null;
    const actor = await this.tokens.authenticate(token);
    return actor && (actor.role === 'gateway' || actor.role === 'admin') ? actor : null;
  }
}

function allow(reply: FastifyReply, result: Verification): void {
  void reply
    .status(200)
    .header('x-agent-id', result.agentId!)
    .header('x-credential-id', result.credentialId!)
    .header('x-client-id', result.clientId!)
    .header('x-owner-id', result.ownerId!)
    .header('x-scopes', result.scopes!.join(' '))
    .header('x-credential-version', String(result.version))
    .header('cache-control', 'no-store');
  if (result.deprecated) void reply.header('x-key-deprecated', 'true');
  void reply.send();
}

function deny(reply: FastifyReply, request: FastifyRequest, status: number, code: string, detail: string): void {
  void reply
    .status(status)
    .header('x-deny-reason', code)
    .header('cache-control', 'no-store')
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .send({ ...problem(status, code, detail), requestId: String(request.id) });
}

function detailOf(code: VerifyCode): string {
  switch (code) {
    case 'MALFORMED':
      return 'The key is not well formed (its checksum fails).';
    case 'NOT_FOUND':
      return 'No credential has this key.';
    case 'REVOKED':
      return 'The credential is revoked.';
    case 'RETIRED':
      return 'This version of the key is retired: its grace period is over.';
    case 'ENVIRONMENT_MISMATCH':
      return 'The credential is not of an environment this gateway serves.';
    case 'SCOPE_DENIED':
      return 'The credential does not hold the required scope.';
    case 'IP_DENIED':
      return "The client address is not in the credential's IP allowlist.";
    case 'RATE_LIMITED':
      return "The credential's rate limit is used up; retry after Retry-After seconds.";
    default:
      return 'Refused.';
  }
}

/** One header's value: a repeated header (which Node joins, or lists) counts as its first value. */
function header(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

/** The agent's key: `Authorization: Bearer <key>`, else X-Api-Key. Null when neither holds one. */
function presentedKey(headers: FastifyRequest['headers']): string | null {
  const authorization = header(headers.authorization);
  if (authorization !== null) {
    const match = /^bearer(?:\s+(.*))?$/is.exec(authorization.trim());
    if (match) {
      const key = (match[1] ?? '').trim();
      if (key) return key;
    }
  }
  const apiKey = header(headers['x-api-key'])?.trim();
  return apiKey ? apiKey : null;
}

/**
 * The agent's request as the delegating gateway forwards it (Traefik's
 * X-Forwarded-Method / X-Forwarded-Uri, nginx's X-Original-Method /
 * X-Original-URI by convention), for the per-call record; the query string is
 * left out (it may carry anything). Null where not sent.
 */
function forwardedRequest(headers: FastifyRequest['headers']): { method: string | null; path: string | null } {
  const method = (header(headers['x-forwarded-method']) ?? header(headers['x-original-method']))?.trim().toUpperCase() ?? null;
  const uri = header(headers['x-forwarded-uri']) ?? header(headers['x-original-uri']);
  const path = uri === null ? null : (uri.split('?')[0] ?? '').slice(0, 2048) || null;
  return { method: method && /^[A-Z]{1,16}$/.test(method) ? method : null, path };
}

/** X-Real-IP, else the first X-Forwarded-For entry (what the gateway saw); null when neither is sent. */
function clientAddress(headers: FastifyRequest['headers']): string | null {
  const real = header(headers['x-real-ip'])?.trim();
  if (real) return real;
  const forwarded = header(headers['x-forwarded-for']);
  const first = forwarded?.split(',')[0]?.trim();
  return first ? first : null;
}

function AuthzDocs(operationId: string, method: string, withPath = false): MethodDecorator {
  return (target, key, descriptor) => {
    ApiSecurity('gatewayToken')(target, key, descriptor);
    const summary = withPath
      ? `Forward-auth check of an agent's key (${method}), the checked request's path appended (Envoy ext_authz)`
      : `Forward-auth check of an agent's key (${method})`;
    const description = withPath
      ? `${AUTHZ_DESCRIPTION} Answers exactly as /v1/authz; the appended path is ignored (Envoy's HTTP ext_authz appends the request path to path_prefix).`
      : AUTHZ_DESCRIPTION;
    ApiOp(operationId, summary, { description })(target, key, descriptor);
    if (withPath) {
      ApiParam({ name: 'path', type: String, description: "The checked request's path as Envoy appends it; not read" })(
        target,
        key,
        descriptor,
      );
    }
    ApiResponse({ status: 200, description: 'Allowed; the agent and credential are in the X- headers' })(target, key, descriptor);
    ApiProblems(
      {
        status: 401,
        description:
          'No, malformed, unknown, revoked or retired key (X-Deny-Reason); or no valid X-Gateway-Token (GATEWAY_UNAUTHENTICATED)',
      },
      {
        status: 403,
        description: 'Scope, address or environment refused (X-Deny-Reason); RATE_LIMITED when AUTHZ_RATE_LIMITED_STATUS=403',
      },
      503,
    )(target, key, descriptor);
    ApiResponse({
      status: 429,
      description: 'Rate limited (X-Deny-Reason: RATE_LIMITED, Retry-After); 403 instead when AUTHZ_RATE_LIMITED_STATUS=403',
      content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(Problem) } } },
      headers: { 'Retry-After': { description: 'Seconds until one more call fits', schema: { type: 'integer' } } },
    })(target, key, descriptor);
  };
}
