import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RouteHandlerMethod, RouteOptions } from 'fastify';

/**
 * Serves some of Nest's routes with plain Fastify handlers: for each route Nest
 * registers, `handlerFor` may answer a handler that replaces Nest's (it gets
 * the route, Nest's handler included, to fall back on). The controllers still
 * declare the routes, so their OpenAPI description and the role matrix stay;
 * everything around the handler (request id, body parsing, hooks, the error
 * handler, which is Nest's problem+json filter) is Fastify's, as for any route.
 * For the hot routes, where Nest's router, guard, interceptors and pipes were a
 * share of every call's CPU (src/oauth/oauth-http.ts, src/enforcement/enforcement-http.ts).
 *
 * Call before the app listens: Nest registers its routes then.
 */
export function replaceRouteHandlers(
  app: NestFastifyApplication,
  handlerFor: (route: RouteOptions) => RouteHandlerMethod | undefined,
): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route: RouteOptions) => {
      const handler = handlerFor(route);
      if (handler) route.handler = handler;
    });
}
