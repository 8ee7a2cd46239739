import { AsyncResource } from 'node:async_hooks';

/**
 * An async scope made when this module loads, at start-up: no request's AsyncLocalStorage store is set in it
 * (nestjs-pino keeps each request's logger in one, src/common/logging/logging.module.ts).
 */
const STORELESS = new AsyncResource('outside-request-context');

/**
 * Runs `work` in an async scope that carries no request's AsyncLocalStorage store. The caller's `await`
 * resumes in the caller's scope as usual, with its store.
 *
 * For jose's signing and verification (src/oauth/access-tokens.service.ts): jose hands each signature to
 * Node's crypto thread pool, and the native job it creates takes the current store along, as every async
 * resource does. A finished job is kept by V8's young-generation collection until the next full collection,
 * and with it the request's store (its logger): in `npm run bench:oauth` that was about a third of what
 * each token and introspection request still promoted to the old generation. Nothing inside the signature
 * work logs or needs the store.
 */
export function outsideRequestContext<T>(work: () => Promise<T>): Promise<T> {
  return STORELESS.runInAsyncScope(work);
}
