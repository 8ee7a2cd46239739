import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { isDatabaseUnavailable, isUniqueViolation } from '../db/pg-errors';
import { DomainError, DomainErrorKind } from '../errors/domain-error';
import { problem, PROBLEM_CONTENT_TYPE, ProblemDetails } from './problem';

const STATUS_BY_KIND: Record<DomainErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 422,
  unavailable: 503,
};

/** Fastify's own client errors (URL, body parsing, limits, media type), by code; a 400 names `field` (default `body`). */
const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; code: string; detail: string; field?: string }> = {
  FST_ERR_BAD_URL: {
    status: 400,
    code: 'BAD_URL',
    detail: 'The URL path is not valid percent-encoded UTF-8.',
    field: 'path',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'BODY_TOO_LARGE', detail: 'The request body is larger than 1 MiB.' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    detail: 'Send the request body as application/json.',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'BAD_CONTENT_LENGTH', detail: 'Content-Length does not match the body.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'EMPTY_JSON_BODY',
    detail: 'The body is empty but Content-Type says application/json.',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'MALFORMED_JSON', detail: 'The request body is not valid JSON.' },
};

const logger = new Logger('ProblemFilter');

function problemFor(known: { status: number; code: string; detail: string; field?: string }): ProblemDetails {
  const errors = known.status === 400 ? [{ field: known.field ?? 'body', message: known.detail }] : [];
  return problem(known.status, known.code, known.detail, errors);
}

/** Turns anything thrown while serving a request into a problem+json body. */
export function toProblem(error: unknown): ProblemDetails {
  if (error instanceof DomainError) {
    return problem(STATUS_BY_KIND[error.kind], error.code, error.message, error.errors);
  }
  const fastifyCode = (error as { code?: unknown })?.code;
  if (typeof fastifyCode === 'string' && FASTIFY_CLIENT_ERRORS[fastifyCode]) {
    return problemFor(FASTIFY_CLIENT_ERRORS[fastifyCode]);
  }
  if (error instanceof SyntaxError) return problemFor(FASTIFY_CLIENT_ERRORS.FST_ERR_CTP_INVALID_JSON_BODY);
  if (error instanceof HttpException) {
    // Nest rethrows Fastify's parser errors as HttpException(message, status), dropping their code.
    const status = error.getStatus();
    if (status === 404) return problem(404, 'ROUTE_NOT_FOUND', 'No such route.');
    if (status === 413) return problemFor(FASTIFY_CLIENT_ERRORS.FST_ERR_CTP_BODY_TOO_LARGE);
    if (status === 415) return problemFor(FASTIFY_CLIENT_ERRORS.FST_ERR_CTP_INVALID_MEDIA_TYPE);
    if (status === 400 && /json/i.test(error.message)) {
      const known = /empty/i.test(error.message)
        ? FASTIFY_CLIENT_ERRORS.FST_ERR_CTP_EMPTY_JSON_BODY
        : FASTIFY_CLIENT_ERRORS.FST_ERR_CTP_INVALID_JSON_BODY;
      return problemFor(known);
    }
    return problem(status, `HTTP_${status}`, error.message);
  }
  const statusCode = (error as { statusCode?: unknown })?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return problem(statusCode, `HTTP_${statusCode}`, (error as Error).message ?? 'Bad request.');
  }
  if (isUniqueViolation(error)) {
    return problem(409, 'CONFLICT', 'The request conflicts with an existing resource.');
  }
  if (isDatabaseUnavailable(error)) {
    return problem(
      503,
      'DATABASE_UNAVAILABLE',
      'The database cannot be reached right now; nothing was changed. Retry after the time in Retry-After.',
    );
  }
  return problem(500, 'INTERNAL', 'Something went wrong on our side. Quote the request id when reporting it.');
}

/**
 * Seconds a client should wait before retrying a 503 (a dependency or the
 * database is unavailable): long enough not to hammer a recovering database,
 * short enough that an emergency revocation is retried promptly.
 */
export const RETRY_AFTER_SECONDS = 5;

export function sendProblem(reply: FastifyReply, request: FastifyRequest, error: unknown): void {
  const body = toProblem(error);
  body.requestId = String(request.id);
  if (body.status === 503) {
    // An outage fails every request alike: one line each, without a stack.
    logger.warn({ requestId: request.id, code: body.code, err: (error as Error)?.message }, 'request failed: dependency unavailable');
    void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  } else if (body.status >= 500) {
    logger.error({ err: error, requestId: request.id }, 'request failed');
  }
  void reply.status(body.status).header('content-type', PROBLEM_CONTENT_TYPE).send(body);
}

@Catch()
export class ProblemFilter implements ExceptionFilter {
  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendProblem(http.getResponse<FastifyReply>(), http.getRequest<FastifyRequest>(), error);
  }
}
