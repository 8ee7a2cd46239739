import type { IncomingMessage, ServerResponse } from 'node:http';

import type { FastifyInstance } from 'fastify';
import { storage, Store } from 'nestjs-pino/storage';
import { type Options, pinoHttp } from 'pino-http';

type LoggedRequest = IncomingMessage & { allLogs?: Store['logger'][] };

/**
 * The enforcement hot path (src/enforcement/enforcement-http.ts): POST /v1/verify and /v1/authz with every
 * path under it, matched on the path as Nest's middleware exclusion matched it (case-insensitively, a trailing
 * slash allowed, the query string ignored). Every call there is kept as a per-call usage record (with its
 * request id, status and deny code; docs/usage.md) instead of an access-log line.
 */
const AUTHZ_PATH = /^\/v1\/authz(?:\/.*)?$/i;
const VERIFY_PATH = /^\/v1\/verify\/?$/i;

export function isAccessLogged(method: string, url: string): boolean {
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  return !(AUTHZ_PATH.test(path) || (method === 'POST' && VERIFY_PATH.test(path)));
}

/**
 * The access log and the request's logger, as a Fastify hook rather than Nest middleware. nestjs-pino's
 * middleware did the same two things (pino-http's line per request, then the request's logger kept in
 * nestjs-pino's AsyncLocalStorage, so the Logger of every service writes the request id while serving it);
 * as middleware it also brought @fastify/middie and Nest's middleware proxies onto every request, the hot
 * routes too, which they excluded only by testing their path after all of that had run.
 *
 * The store stays switched on only while a logged request is in flight. Node 20 runs a promise hook on every
 * promise of the process while any AsyncLocalStorage is on, and the hot routes (which log nothing) are nearly
 * all of the promises; once the last logged request has answered, `storage.disable()` turns the hooks off
 * until the next logged request switches them on again. A line written by work a request left running after
 * its answer carries the request id only while another logged request is in flight.
 */
export class RequestLogging {
  private inFlight = 0;

  constructor(private readonly options: Options) {}

  install(fastify: FastifyInstance): void {
    const log = pinoHttp(this.options);
    const answered = () => {
      if (--this.inFlight === 0) storage.disable();
    };
    fastify.addHook('onRequest', (request, reply, done) => {
      if (!isAccessLogged(request.method, request.url)) {
        done();
        return;
      }
      const raw: LoggedRequest = request.raw;
      log(raw, reply.raw as ServerResponse);
      this.inFlight++;
      reply.raw.once('close', answered);
      // pino-http's own logger for this request (nestjs-pino's bindLoggerMiddleware takes the last as well).
      const logs = raw.allLogs!;
      storage.run(new Store(logs[logs.length - 1]!), done);
    });
  }
}
