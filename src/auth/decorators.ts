import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

import { redactionsOf } from '../common/http/free-text';
import type { Actor, RequestContext, Role } from './actor';

export const ROLES_METADATA = 'auth:roles';
export const PUBLIC_METADATA = 'auth:public';

/** Every route declares who may call it; a route that declares nothing is refused to everyone. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_METADATA, roles);

/** Operations endpoints (health, metrics, docs) that need no token. */
export const Public = () => SetMetadata(PUBLIC_METADATA, true);

/**
 * `sessionActor` is set before routing by the console's session hook
 * (src/console/console-http.ts) for a request that carries a live console
 * session cookie, a valid CSRF token when it changes state, and no bearer token.
 */
export type AuthenticatedRequest = FastifyRequest & { actor?: Actor; sessionActor?: Actor };

/** The caller and request id, for services that change state or filter by owner. */
export const Ctx = createParamDecorator((_: unknown, context: ExecutionContext): RequestContext => {
  const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!request.actor) throw new Error('Ctx used on a route without authentication');
  // The list is filled by the body's validation pipe, which Nest runs after this (see redactionsOf).
  return { actor: request.actor, requestId: String(request.id), redactions: redactionsOf(request.body) };
});
