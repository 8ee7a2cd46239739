import { Injectable } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';

import type { Actor } from '../auth/actor';
import { bearerTokenOf, TokensService } from '../auth/tokens.service';
import { replaceRouteHandlers } from '../common/http/plain-routes';
import { problem, PROBLEM_CONTENT_TYPE } from '../common/http/problem';
import { stringProblem } from '../common/http/validation';
import { AppConfig } from '../config/app-config';
import type { VerifyAnswerDto, VerifyDto } from './dto/verify.dto';
import { parseAddress } from './enforced-credential';
import { Verification, VerificationService } from './verification.service';
import { SCOPE_PATTERN, UNAUTHENTICATED_CODES, type VerifyCode } from './verification-codes';

/** What an invalid X-Required-Scope is checked as: a name no credential holds (and safe to record). */
const UNREADABLE_SCOPE = 'invalid:scope';

/**
 * What POST /v1/verify and /v1/authz answer, for both ways a call reaches
 * them: EnforcementController (src/enforcement/enforcement.controller.ts), which
 * declares the routes and their OpenAPI description, and the plain Fastify
 * handlers configureEnforcementHttp installs in its place.
 */
@Injectable()
export class EnforcementHttp {
  constructor(
    private readonly verification: VerificationService,
    private readonly tokens: TokensService,
    private readonly config: AppConfig,
  ) {}

  /** POST /v1/verify's 200 body for an authenticated caller and a validated body. */
  async verify(actor: Actor, body: VerifyDto, requestId: string): Promise<VerifyAnswerDto> {
    const result = await this.verification.verify(actor, {
      key: body.key,
      scope: body.scope ?? null,
      ip: body.ip ?? null,
      environment: body.environment ?? null,
      call: { source: 'verify', requestId, method: null, path: null },
    });
    if (result.retryAfterSeconds === undefined) return result;
    const { retryAfterSeconds: _retry, ...answer } = result;
    return answer;
  }

  /** /v1/authz (any method, any path under it): the answer in the status and headers; sends the reply. */
  async authz(request: FastifyRequest, reply: FastifyReply): Promise<void> {
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
      call: { source: 'authz', requestId: String(request.id), method: forwardedMethod(headers), path: forwardedPath(headers) },
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

  /** The gateway (or admin) a token (X-Gateway-Token, or a bearer token on /v1/verify) names, or null. */
  private async gatewayActor(token: string | null): Promise<Actor | null> {
    if (!token || token.length > 512) return null;
    const actor = await this.tokens.authenticate(token);
    return actor && (actor.role === 'gateway' || actor.role === 'admin') ? actor : null;
  }

  /**
   * POST /v1/verify for the common call: a gateway's or admin's bearer token
   * and a body that is certainly valid (verifyBodyOf). Null for anything else
   * (no token, another role, a body to refuse): that call goes through Nest's
   * guard and validation pipe, which answer it as they answer every route.
   */
  async verifyPlain(request: FastifyRequest): Promise<VerifyAnswerDto | null> {
    const body = verifyBodyOf(request.body);
    if (!body) return null;
    const bearer = bearerTokenOf(request.headers.authorization);
    const actor = bearer === null ? null : await this.gatewayActor(bearer);
    return actor && this.verify(actor, body, String(request.id));
  }
}

const VERIFY_FIELDS: ReadonlySet<string> = new Set(['key', 'scope', 'ip', 'environment']);

/**
 * The body as VerifyDto when StrictValidationPipe (src/common/http/validation.ts) would certainly let it
 * through unchanged: an object of VerifyDto's fields only, a key string without what no string may
 * hold, a well-formed scope, an address, a known environment. Null when it might refuse it.
 */
export function verifyBodyOf(body: unknown): VerifyDto | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  for (const field in body) if (!VERIFY_FIELDS.has(field) || !Object.hasOwn(body, field)) return null;
  const { key, scope, ip, environment } = body as Record<string, unknown>;
  if (typeof key !== 'string' || stringProblem(key) !== null) return null;
  if (scope !== undefined && (typeof scope !== 'string' || !SCOPE_PATTERN.test(scope))) return null;
  if (ip !== undefined && (typeof ip !== 'string' || parseAddress(ip) === null)) return null;
  if (environment !== undefined && environment !== 'sandbox' && environment !== 'production') return null;
  return body as VerifyDto;
}

/**
 * The enforcement routes, answered by plain Fastify handlers instead of Nest's
 * router, as the OAuth endpoints are (src/oauth/oauth-http.ts): the router's
 * global guard, interceptors, validation pipe (class-transformer and
 * class-validator) and param decorators were a share of every call's CPU.
 * EnforcementController still declares the routes, so they, their OpenAPI
 * description and the role matrix are unchanged; Fastify's `onRoute` hook swaps
 * in the handlers here, which answer exactly as the controller does (both call
 * EnforcementHttp). /v1/authz is public (it authenticates the gateway itself);
 * POST /v1/verify answers here only for a caller and body that certainly pass
 * (EnforcementHttp.verifyPlain) and hands every other call to Nest's handler, so
 * its 400, 401, 403 problems are the guard's and the pipe's. Errors go to
 * Fastify's error handler, which is Nest's problem+json filter, as before.
 *
 * Installs the swap; call before the app listens (Nest registers its routes then).
 */
export function configureEnforcementHttp(app: NestFastifyApplication): void {
  const http = app.get(EnforcementHttp);
  replaceRouteHandlers(app, (route) => {
    if (route.url === '/v1/authz' || route.url.startsWith('/v1/authz/')) {
      return async (request, reply) => {
        await http.authz(request, reply);
        return reply;
      };
    }
    return route.url === '/v1/verify' && route.method === 'POST' ? plainVerify(http, route.handler) : undefined;
  });
}

function plainVerify(http: EnforcementHttp, nest: RouteHandlerMethod): RouteHandlerMethod {
  return async function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    const answer = await http.verifyPlain(request);
    if (answer === null) return nest.call(this, request, reply);
    return reply.status(200).send(answer);
  };
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

/*
 * The agent's request as the delegating gateway forwards it (Traefik's
 * X-Forwarded-Method / X-Forwarded-Uri, nginx's X-Original-Method /
 * X-Original-URI by convention), for the per-call record; the query string is
 * left out (it may carry anything). Null where not sent.
 */
function forwardedMethod(headers: FastifyRequest['headers']): string | null {
  const method = (header(headers['x-forwarded-method']) ?? header(headers['x-original-method']))?.trim().toUpperCase() ?? null;
  return method && /^[A-Z]{1,16}$/.test(method) ? method : null;
}

function forwardedPath(headers: FastifyRequest['headers']): string | null {
  const uri = header(headers['x-forwarded-uri']) ?? header(headers['x-original-uri']);
  return uri === null ? null : (uri.split('?')[0] ?? '').slice(0, 2048) || null;
}

/** X-Real-IP, else the first X-Forwarded-For entry (what the gateway saw); null when neither is sent. */
function clientAddress(headers: FastifyRequest['headers']): string | null {
  const real = header(headers['x-real-ip'])?.trim();
  if (real) return real;
  const forwarded = header(headers['x-forwarded-for']);
  const first = forwarded?.split(',')[0]?.trim();
  return first ? first : null;
}
