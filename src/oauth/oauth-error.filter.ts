import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

import { OAuthError, OAuthErrorCode } from './oauth-errors';

const STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  temporarily_unavailable: 429,
  invalid_token: 401,
  insufficient_scope: 403,
};

/**
 * Answers an OAuthError as RFC 6749 §5.2 asks: JSON `{ error, error_description }`, never cached, `invalid_client`
 * a 401 with a challenge of the scheme the client used (Basic), a refused gateway token a Bearer challenge.
 */
export function sendOAuthError(reply: FastifyReply, error: OAuthError): void {
  const status = STATUS[error.error];
  void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  if (error.challenge === 'Basic' && status === 401) void reply.header('www-authenticate', 'Basic realm="oauth", charset="UTF-8"');
  if (error.challenge === 'Bearer') {
    void reply.header(
      'www-authenticate',
      `Bearer realm="oauth", error="${error.error}", error_description="${error.description.replace(/"/g, "'")}"`,
    );
  }
  if (error.retryAfterSeconds !== undefined) void reply.header('retry-after', String(error.retryAfterSeconds));
  void reply
    .status(status)
    .header('content-type', 'application/json; charset=utf-8')
    .send({ error: error.error, error_description: error.description });
}

/**
 * The OAuth controller's OAuthErrors, answered by sendOAuthError. Anything else thrown on these routes (a 503
 * while Postgres or Redis is down) stays with the global problem+json filter.
 */
@Catch(OAuthError)
export class OAuthErrorFilter implements ExceptionFilter {
  catch(error: OAuthError, host: ArgumentsHost): void {
    sendOAuthError(host.switchToHttp().getResponse<FastifyReply>(), error);
  }
}
