import { AsyncResource } from 'node:async_hooks';
import { deprecate } from 'node:util';

type Fn = (...args: any[]) => unknown;

const RESOURCE = Symbol('asyncResource');
const DEP0172 = 'The asyncResource property on bound functions is deprecated';
/**
 * The deprecated `asyncResource` accessors of bound functions, made once for all of them: each reads the
 * resource from the bound function it is called on, and warns (DEP0172) as Node's own do.
 */
const ASYNC_RESOURCE_ACCESSORS = {
  configurable: true,
  enumerable: true,
  get: deprecate(
    function (this: { [RESOURCE]: AsyncResource }) {
      return this[RESOURCE];
    },
    DEP0172,
    'DEP0172',
  ),
  set: deprecate(
    function (this: { [RESOURCE]: AsyncResource }, value: AsyncResource) {
      this[RESOURCE] = value;
    },
    DEP0172,
    'DEP0172',
  ),
};

let installed = false;

/**
 * Replaces Node 20's `AsyncResource.prototype.bind` (and so the static `AsyncResource.bind`) with one that
 * behaves the same (the function runs in the resource's async scope with the given or the caller's `this`,
 * keeps `fn.length`, has the deprecated `asyncResource` accessors) but makes no object a prototype.
 *
 * Node 20 gives every bound function two new `asyncResource` accessors wrapped by `util.deprecate`, which
 * makes each new accessor the prototype of its wrapper. V8's young-generation collection keeps an object
 * that has been made a prototype alive until the next full collection, and with it everything the accessor
 * closes over: the resource and the bound function. Fastify binds one such function per request that has
 * a body (its content-type parser's `done`, which holds the request and the reply), so every POST's
 * objects survived young collections and were promoted, then died in the old generation: with
 * `--max-semi-space-size=4 --heap-growing-percent=30` (package.json start:prod), each young collection
 * copied about 0.5 MB and a full collection came every few seconds in `npm run bench:oauth`, the pauses that
 * set its tail. Later Node versions no longer make the accessors prototypes.
 *
 * Process-wide and idempotent; installed with the HTTP adapter (src/app.setup.ts), before any request.
 */
export function installAsyncResourceBind(): void {
  if (installed) return;
  installed = true;
  AsyncResource.prototype.bind = function bind<F extends Fn>(this: AsyncResource, fn: F, thisArg?: unknown): F {
    return boundTo(this, fn, thisArg);
  };
}

/** What Node's bind returns, with the shared accessors. */
function boundTo<F extends Fn>(resource: AsyncResource, fn: F, thisArg: unknown): F {
  if (typeof fn !== 'function') {
    throw Object.assign(new TypeError(`The "fn" argument must be of type function. Received ${typeof fn}`), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
  }
  const bound =
    thisArg === undefined
      ? function (this: unknown, ...args: unknown[]) {
          return resource.runInAsyncScope(fn, this, ...args);
        }
      : resource.runInAsyncScope.bind(resource, fn, thisArg);
  Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, value: fn.length, writable: false });
  Object.defineProperty(bound, RESOURCE, { configurable: true, enumerable: false, value: resource, writable: true });
  Object.defineProperty(bound, 'asyncResource', ASYNC_RESOURCE_ACCESSORS);
  return bound as unknown as F;
}
