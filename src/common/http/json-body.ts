import type { FastifyInstance } from 'fastify';

import { InvalidInputError } from '../errors/domain-error';

/**
 * The deepest nesting of objects and arrays a JSON body may have. Our deepest
 * DTO nests two levels (`rateLimit.requests`, `scopes[0]`); the cap leaves
 * room for growth while keeping every recursive walk after parsing (secure
 * parsing, class-transformer, class-validator) far from the stack's end: a
 * body nesting ten thousand levels used to overflow it in validation (500).
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether `text` nests objects/arrays deeper than `max`. One pass over the
 * characters, skipping string literals, before anything parses or walks the
 * value; malformed text is left for the parser to refuse.
 */
export function jsonNestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}

/**
 * Route config (`@RouteConfig(RAW_JSON_BODY)` from @nestjs/platform-fastify)
 * of a route that needs its JSON body's exact bytes, e.g. to verify a
 * signature over them: its body is left unparsed, a Buffer.
 */
export const RAW_JSON_BODY = { rawJsonBody: true } as const;

/**
 * Replaces Fastify's application/json parser with the same parser (secure
 * against `__proto__` and `constructor` keys, same errors for empty and
 * malformed bodies) behind a depth check, so a too-deep body is a 400 naming
 * `body` before any recursion sees it. Routes configured with RAW_JSON_BODY
 * get the bytes as they came (after the same depth check), for the handler
 * to verify and then parse.
 */
export function installJsonBodyParser(fastify: FastifyInstance): void {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer;
    const text = bytes.toString('utf8');
    if (jsonNestsDeeperThan(text, MAX_JSON_DEPTH)) {
      done(InvalidInputError.field('body', `nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`), undefined);
      return;
    }
    const config = request.routeOptions.config as Partial<typeof RAW_JSON_BODY> | undefined;
    if (config?.rawJsonBody) {
      done(null, bytes);
      return;
    }
    parse(request, text, done);
  });
}
