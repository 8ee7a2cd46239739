import { Body, Controller, Delete, Get, HttpCode, Patch, Post, Put, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiResponse, ApiSecurity, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';

import type { RequestContext } from '../auth/actor';
import { Ctx, Public, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems, Problem } from '../common/http/api-docs';
import { PROBLEM_CONTENT_TYPE } from '../common/http/problem';
import { VerifyAnswerDto, VerifyDto } from './dto/verify.dto';
import { EnforcementHttp } from './enforcement-http';

const AUTHZ_DESCRIPTION =
  'Forward authentication for gateways that delegate (nginx auth_request, Traefik ForwardAuth, Envoy ext_authz HTTP). ' +
  'The gateway authenticates with X-Gateway-Token; the agent key (or OAuth access token) comes in `Authorization: Bearer` or `X-Api-Key`, the client ' +
  'address in X-Real-IP or the first X-Forwarded-For entry, the required scope in X-Required-Scope. Allowed: 200 with ' +
  'X-Agent-Id, X-Credential-Id, X-Client-Id, X-Owner-Id, X-Scopes, X-RateLimit-Limit, X-RateLimit-Remaining. Every ' +
  'denial carries X-Deny-Reason.';

/**
 * The enforcement hot path: POST /v1/verify (JSON answer, always 200) and
 * /v1/authz (the answer in the status and headers, for gateways that
 * delegate). Both are one VerificationService call, made by EnforcementHttp
 * (enforcement-http.ts), whose plain Fastify handlers answer these routes in
 * place of Nest's router; this controller declares them (OpenAPI, roles) and
 * answers the calls the plain handler of /v1/verify hands back (to be refused).
 */
@ApiTags('enforcement')
@Controller('v1')
export class EnforcementController {
  constructor(private readonly http: EnforcementHttp) {}

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
  verify(@Ctx() ctx: RequestContext, @Body() body: VerifyDto): Promise<VerifyAnswerDto> {
    return this.http.verify(ctx.actor, body, ctx.requestId);
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

  private authz(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    return this.http.authz(request, reply);
  }
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
