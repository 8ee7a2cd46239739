import { applyDecorators, Type } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import {
  ApiBody,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiOperationOptions,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  getSchemaPath,
} from '@nestjs/swagger';

import { PROBLEM_CONTENT_TYPE, ProblemDetails } from './problem';
import { RETRY_AFTER_SECONDS } from './problem.filter';

/**
 * What the OpenAPI document says about errors, in one place: the schema of the
 * problem+json body every error is answered with (problem.ts, problem.filter.ts),
 * and decorators that document a route's error answers from that one schema.
 */

/** One refused field: `rateLimit.requests`, `scopes[1]`, `cursor`, `body`. */
export class ProblemFieldError {
  @ApiProperty({ example: 'rateLimit.requests' }) field!: string;
  @ApiProperty({ example: 'must not be greater than 100000' }) message!: string;
}

/** RFC 9457 problem details: the body of every error answer of this API. */
export class Problem implements ProblemDetails {
  @ApiProperty({ format: 'uri-reference', example: 'urn:agent-credentials:problem:validation-failed' }) type!: string;
  @ApiProperty({ example: 'Bad Request' }) title!: string;
  @ApiProperty({ type: 'integer', minimum: 400, maximum: 599, example: 400 }) status!: number;
  @ApiProperty({ example: 'The request has invalid fields.' }) detail!: string;
  @ApiProperty({ description: 'Stable machine-readable code: VALIDATION_FAILED, CREDENTIAL_REVOKED, ...', example: 'VALIDATION_FAILED' })
  code!: string;
  @ApiProperty({ type: [ProblemFieldError], description: 'One entry per refused field; empty when no field is at fault' })
  errors!: ProblemFieldError[];
  @ApiPropertyOptional({ description: 'The x-request-id of the request; quote it when reporting a problem' })
  requestId?: string;
}

/** The error statuses routes of this API answer with a problem+json body. */
export type ProblemStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 503;

/** What each status means, unless a route says more precisely. */
const MEANING: Record<ProblemStatus, string> = {
  400: 'Bad input: a body field, query parameter or path id is invalid or unknown (each is named in `errors`); nothing was stored',
  401: 'No bearer token, or one that is unknown or revoked',
  403: "The token's role, or the owner it is bound to, may not do this",
  404: 'The resource named in the path does not exist',
  409: "The resource's state does not allow this",
  413: 'The body is larger than 1 MiB',
  415: 'The body is not application/json',
  422: 'Well-formed, but more than one call may change; nothing was changed',
  503: `A dependency (the database, Redis or a secret store) is unavailable; nothing was changed. Retry after Retry-After seconds (${RETRY_AFTER_SECONDS})`,
};

/** A status, or a status with what it means for this route. */
export type ProblemAnswer = ProblemStatus | { status: ProblemStatus; description: string };

/**
 * Documents the error answers of a route (or of every route of a controller),
 * each a problem+json body of the one `Problem` schema:
 * `@ApiProblems(400, 404, { status: 409, description: 'The credential is revoked' })`.
 */
export function ApiProblems(...answers: ProblemAnswer[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(Problem),
    ...answers.map((answer) => {
      const { status, description } = typeof answer === 'number' ? { status: answer, description: MEANING[answer] } : answer;
      return ApiResponse({
        status,
        description,
        content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(Problem) } } },
        ...(status === 503
          ? { headers: { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } } } }
          : {}),
      });
    }),
  );
}

/**
 * The error answers of every route behind a bearer token: 401 without a valid
 * token, and 503 while the database (which every such route reads, starting with
 * the token itself) or another dependency is down.
 */
export function ApiAuthenticatedProblems(): MethodDecorator & ClassDecorator {
  return ApiProblems(401, 503);
}

/**
 * A route's stable, readable operationId (what generated clients name the
 * method: `listCredentials`, not Nest's `CredentialsController_list`) and its
 * one-line summary; `more` adds a description, or `security: []` for a route
 * that takes no token.
 */
export function ApiOp(
  operationId: string,
  summary: string,
  more: Omit<ApiOperationOptions, 'operationId' | 'summary'> = {},
): MethodDecorator {
  return ApiOperation({ ...more, operationId, summary });
}

/**
 * The route's JSON body may be left out altogether (every field of its DTO is
 * optional). The schema stays the `@Body()` parameter's DTO, read from the
 * method's own metadata as @nestjs/swagger does (param decorators run first).
 */
export function ApiOptionalBody(): MethodDecorator {
  return (target, key, descriptor) => {
    const args: Record<string, { index: number }> = Reflect.getMetadata(ROUTE_ARGS_METADATA, target.constructor, key) ?? {};
    const body = Object.entries(args).find(([arg]) => arg.split(':')[0] === String(RouteParamtypes.BODY));
    if (!body) throw new Error(`@ApiOptionalBody() on ${String(key)}, which has no @Body() parameter`);
    const parameterTypes: Array<Type<unknown>> = Reflect.getMetadata('design:paramtypes', target, key);
    ApiBody({ type: parameterTypes[body[1].index], required: false })(target, key, descriptor);
  };
}

/** A 200 answered as JSON (the DTO) or, when the request asks for it, as CSV text. */
export function ApiJsonOrCsvOkResponse(type: Type<unknown>, description: string): MethodDecorator {
  return applyDecorators(
    ApiExtraModels(type),
    ApiOkResponse({
      description,
      content: {
        'application/json': { schema: { $ref: getSchemaPath(type) } },
        'text/csv': { schema: { type: 'string', description: 'A header row, then one row per record' } },
      },
    }),
  );
}
