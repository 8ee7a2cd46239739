import formbody from '@fastify/formbody';
import { errorCodes, type FastifyInstance } from 'fastify';

import { sendProblem } from './problem.filter';

/** The only routes that take application/x-www-form-urlencoded bodies: the OAuth endpoints (RFC 6749 §3.2, RFC 7662, RFC 7009). */
const FORM_ROUTES = /^\/oauth\/(token|introspect|revoke)(\?|$)/;

/**
 * Form bodies for the OAuth endpoints only (src/oauth). @fastify/formbody parses them (a repeated parameter
 * becomes an array, which the endpoints refuse as RFC 6749 §3.1 asks); every other route still answers a form
 * body with the 415 it always did, before the body is read.
 */
export function installFormBodyParser(fastify: FastifyInstance): void {
  void fastify.register(formbody);
  fastify.addHook('onRequest', async (request, reply) => {
    const type = request.headers['content-type'];
    if (typeof type !== 'string' || !/^\s*application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) return;
    if (FORM_ROUTES.test(request.url)) return;
    void reply.header('x-request-id', request.id);
    sendProblem(reply, request, new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(type));
    return reply;
  });
}
