import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import type { AuthenticatedRequest } from '../auth/decorators';
import { TokensService } from '../auth/tokens.service';
import { ForbiddenError, UnauthenticatedError } from '../common/errors/domain-error';
import { sendProblem } from '../common/http/problem.filter';
import { JobQueues } from '../common/jobs/job-queues';
import { SECRET_STORE_NAMES } from '../config/app-config';
import { GatewayQueue } from '../gateways/delivery-jobs';
import { RevocationQueue } from '../revocation/secret-destruction-jobs';
import { rotationQueueName } from '../rotation/rotation-jobs';
import { consoleAssetsDir } from './console-assets';
import { ConsoleSessionsService, csrfTokenMatches, ResolvedSession } from './console-sessions.service';
import { CONSOLE_CSP, QUEUES_CSP, securityHeaders } from './content-security-policy';
import { sessionIdOf } from './session-cookie';

/** A request with the console session its cookie names (set by the session hook). */
export type ConsoleRequest = AuthenticatedRequest & { consoleSession?: ResolvedSession };

/** Where the queue dashboard is served. */
export const QUEUES_PATH = '/admin/queues';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** 403 for a cookie-authenticated state change without the session's CSRF token. */
export class CsrfTokenError extends ForbiddenError {
  constructor() {
    super('CSRF_TOKEN_INVALID', 'A request authenticated by the console session must carry its X-CSRF-Token to change anything.');
  }
}

/**
 * The console's HTTP pieces that sit outside Nest's controllers (the session
 * routes are ConsoleSessionController): the session hook that lets the cookie
 * stand for its API token on /v1, the static files of /console with their
 * Content-Security-Policy, and the bull-board dashboard, admins only.
 */
export function configureConsole(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const sessions = app.get(ConsoleSessionsService);

  fastify.addHook('onRequest', async (request: ConsoleRequest, reply) => {
    if (!needsSession(request.url)) return;
    // A bearer token wins (the guard reads it); the cookie is only for requests without one.
    if (request.headers.authorization !== undefined) return;
    const sessionId = sessionIdOf(request);
    if (!sessionId) return;
    const resolved = await sessions.resolve(sessionId);
    if (!resolved) return;
    if (!SAFE_METHODS.has(request.method) && !mayChangeState(request, resolved)) {
      sendProblem(reply, request, new CsrfTokenError());
      return reply;
    }
    request.consoleSession = resolved;
    request.sessionActor = resolved.actor;
  });

  serveConsoleFiles(fastify);
  serveQueueDashboard(fastify, app.get(JobQueues), app.get(TokensService));
}

function needsSession(url: string): boolean {
  return url.startsWith('/v1/') || url.startsWith('/console/session') || url === QUEUES_PATH || url.startsWith(`${QUEUES_PATH}/`);
}

/**
 * The console sends X-CSRF-Token. bull-board's own page cannot: its state
 * changes must come from this origin instead (browsers send Origin on every
 * cross-origin and every non-GET fetch), on top of the SameSite=Strict cookie.
 */
function mayChangeState(request: FastifyRequest, session: ResolvedSession): boolean {
  if (csrfTokenMatches(session.csrfToken, request.headers['x-csrf-token'])) return true;
  if (!request.url.startsWith(QUEUES_PATH)) return false;
  const origin = request.headers.origin;
  return typeof origin === 'string' && origin === `${request.protocol}://${request.headers.host}`;
}

function serveConsoleFiles(fastify: FastifyInstance): void {
  const root = consoleAssetsDir();
  let indexHtml: string | null = null;

  fastify.register(fastifyStatic, {
    root: join(root, 'assets'),
    prefix: '/console/assets/',
    decorateReply: false,
    index: false,
    // Names carry a content hash (scripts/build-console.ts).
    immutable: true,
    maxAge: '365d',
    setHeaders: (res) => {
      for (const [name, value] of Object.entries(securityHeaders(CONSOLE_CSP))) res.setHeader(name, value);
    },
  });

  const page = async (_request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    void reply.headers({ ...securityHeaders(CONSOLE_CSP), 'cache-control': 'no-store' });
    try {
      indexHtml ??= await readFile(join(root, 'index.html'), 'utf8');
    } catch {
      await reply.status(503).type('text/plain; charset=utf-8').send('The console is not built: run npm run build.\n');
      return;
    }
    await reply.type('text/html; charset=utf-8').send(indexHtml);
  };
  // Every console page is the same document; the front end routes by path.
  fastify.get('/console', page);
  fastify.get('/console/*', page);
}

function serveQueueDashboard(fastify: FastifyInstance, jobs: JobQueues, tokens: TokensService): void {
  const names = [GatewayQueue.Delivery, RevocationQueue.SecretDestruction, ...SECRET_STORE_NAMES.map(rotationQueueName)];
  const serverAdapter = new BullBoardFastifyAdapter();
  serverAdapter.setBasePath(QUEUES_PATH);
  createBullBoard({
    queues: names.map((name) => new BullMQAdapter(jobs.queue(name), { readOnlyMode: false })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Job queues' } },
  });

  fastify.register(async (scope) => {
    scope.addHook('onRequest', async (request: ConsoleRequest, reply) => {
      void reply.headers({ ...securityHeaders(QUEUES_CSP), 'cache-control': 'no-store' });
      const actor = request.sessionActor ?? (await bearerActor(request, tokens));
      if (!actor) {
        if (request.method === 'GET' && (request.headers.accept ?? '').includes('text/html')) {
          return reply.redirect(`/console/sign-in?next=${encodeURIComponent(QUEUES_PATH)}`, 303);
        }
        sendProblem(reply, request, new UnauthenticatedError());
        return reply;
      }
      if (actor.role !== 'admin') {
        sendProblem(reply, request, new ForbiddenError('ROLE_NOT_ALLOWED', 'Only admins may open the queue dashboard.'));
        return reply;
      }
    });
    // bull-board's page links a web font from a CDN: the service fetches nothing from elsewhere, so the link goes.
    scope.addHook('onSend', async (_request, reply, payload) => {
      if (typeof payload !== 'string' || !String(reply.getHeader('content-type') ?? '').startsWith('text/html')) return payload;
      return payload.replace(/<link[^>]*href="https?:\/\/[^"]*"[^>]*>/g, '');
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUES_PATH });
  });
}

async function bearerActor(request: FastifyRequest, tokens: TokensService) {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match ? tokens.authenticate(match[1]) : null;
}
