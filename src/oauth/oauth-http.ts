import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { replaceRouteHandlers } from '../common/http/plain-routes';
import { OAuthService } from './oauth.service';
import { sendOAuthError } from './oauth-error.filter';
import { OAuthError } from './oauth-errors';

type Answer = (oauth: OAuthService, request: FastifyRequest) => Promise<object>;

/** POST /oauth/token's 200 body, or the OAuthError it throws: the plain handler's and the controller's. */
export const answerToken = (oauth: OAuthService, request: FastifyRequest) =>
  oauth.token(request.body, request.headers.authorization, request.ip, request.headers['content-type']);

/** POST /oauth/introspect's 200 body, or the OAuthError it throws: the plain handler's and the controller's. */
export const answerIntrospect = (oauth: OAuthService, request: FastifyRequest) =>
  oauth.introspect(request.body, request.headers.authorization, request.ip, request.headers['content-type'], String(request.id));

/** What each plain route answers. */
const PLAIN_ROUTES: Record<string, Answer> = { '/oauth/token': answerToken, '/oauth/introspect': answerIntrospect };

/**
 * The hot OAuth endpoints, answered by plain Fastify handlers instead of Nest's router: once its client was
 * cached, Nest's router (global guard, filters, header and status handling, for a public route that needs
 * none of it) was about 7 % of a token request's CPU in a profile of `npm run bench:oauth`.
 *
 * OAuthController (src/oauth/oauth.controller.ts) still declares the routes, so they, their OpenAPI
 * description and the role matrix are unchanged; Fastify's `onRoute` hook swaps the handler Nest registers
 * for the one here, which answers exactly as the controller would: status 200, `Cache-Control: no-store`
 * and `Pragma: no-cache` set before the work, OAuthError as RFC 6749 JSON (sendOAuthError), anything else
 * to Fastify's error handler, which is Nest's global problem+json filter (a 503 while a dependency is down).
 * Everything around the handler (request id, body parsing, access log, metrics) is Fastify's, as before.
 *
 * Installs the swap; call before the app listens (Nest registers its routes then).
 */
export function configureOAuthHttp(app: NestFastifyApplication): void {
  const oauth = app.get(OAuthService);
  replaceRouteHandlers(app, (route) => {
    const answer = route.method === 'POST' ? PLAIN_ROUTES[route.url] : undefined;
    return answer && plainHandler(oauth, answer);
  });
}

function plainHandler(oauth: OAuthService, answer: Answer) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    let body: object;
    try {
      body = await answer(oauth, request);
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      sendOAuthError(reply, error);
      return reply;
    }
    return reply.status(200).send(body);
  };
}
