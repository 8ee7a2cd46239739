import type { IncomingMessage } from 'node:http';

import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Logger } from 'nestjs-pino';

import { createApiDocument } from './api-document';
import { installAsyncResourceBind } from './common/http/async-resource-bind';
import { answerClientError } from './common/http/client-error';
import { installFormBodyParser } from './common/http/form-body';
import { installJsonBodyParser } from './common/http/json-body';
import { sendProblem } from './common/http/problem.filter';
import { requestIdFor } from './common/http/request-id';
import { StrictValidationPipe } from './common/http/validation';
import { RequestLogging } from './common/logging/request-logging';
import { MetricsService } from './common/metrics/metrics.service';
import type { AppConfig } from './config/app-config';
import { configureConsole } from './console/console-http';
import { configureEnforcementHttp } from './enforcement/enforcement-http';
import { configureOAuthHttp } from './oauth/oauth-http';

/**
 * Options for NestFactory.create / createNestApplication. Nest's own body
 * parsers are off: Fastify's JSON parser (which refuses __proto__ keys) is the
 * only one, so any other content type gets a 415.
 */
export const NEST_APP_OPTIONS = { bufferLogs: true, bodyParser: false } as const;

/** The Fastify adapter: 1 MiB bodies nesting at most MAX_JSON_DEPTH levels, request ids, JSON only (text/plain is refused with 415). */
export function createFastifyAdapter(config: AppConfig): FastifyAdapter {
  // Fastify binds an async resource to every request with a body: without this, Node 20's bind kept each such request's objects past young GC.
  installAsyncResourceBind();
  const adapter = new FastifyAdapter({
    bodyLimit: config.http.bodyLimitBytes,
    genReqId: (req: IncomingMessage) => requestIdFor(req),
    logger: false,
    trustProxy: false,
    return503OnClosing: true,
    // Requests Node's parser refuses (headers or URL too large, malformed HTTP) are problem+json too.
    clientErrorHandler: answerClientError,
    // A path that is not valid percent-encoding never reaches a route (or the hooks): answer it as every other error,
    // not with Fastify's own JSON, which echoes the path.
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => {
      void reply.header('x-request-id', request.id);
      sendProblem(reply, request, error);
    },
  });
  adapter.getInstance().removeContentTypeParser('text/plain');
  installJsonBodyParser(adapter.getInstance());
  installFormBodyParser(adapter.getInstance());
  return adapter;
}

/** Everything main.ts and the e2e tests both need on top of the module graph. */
export function configureApp(app: NestFastifyApplication): void {
  app.useLogger(app.get(Logger));
  app.useGlobalPipes(new StrictValidationPipe());

  const metrics = app.get(MetricsService);
  const fastify = app.getHttpAdapter().getInstance();
  // Callback hooks, not async ones: every request runs both, and an async hook costs a promise and its resolution each.
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    if (request.url.startsWith('/v1/')) void reply.header('cache-control', 'no-store');
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });

  configureConsole(app);
  configureOAuthHttp(app);
  configureEnforcementHttp(app);
  // Last of the onRequest hooks, where Nest's middleware (which it replaces) ran.
  app.get(RequestLogging).install(fastify);

  const document = createApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', yamlDocumentUrl: 'docs-yaml' });
}
