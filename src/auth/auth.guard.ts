import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import { ForbiddenError, UnauthenticatedError } from '../common/errors/domain-error';
import type { Role } from './actor';
import { AuthenticatedRequest, PUBLIC_METADATA, ROLES_METADATA } from './decorators';
import { bearerTokenOf, TokensService } from './tokens.service';

/**
 * Global guard. Public routes pass; every other route must declare its roles,
 * and a route that declares none is refused (fail closed).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokensService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_METADATA, targets)) return true;

    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const bearer = bearerTokenOf(request.headers.authorization);
    // A bearer token wins; without one, a console session (src/auth/decorators.ts) stands for its token.
    if (bearer === null && !request.sessionActor) throw new UnauthenticatedError();
    const actor = bearer !== null ? await this.tokens.authenticate(bearer) : (request.sessionActor ?? null);
    if (!actor) throw new UnauthenticatedError('The bearer token is unknown or revoked.');
    request.actor = actor;

    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_METADATA, targets) ?? [];
    if (actor.role === 'system' || !roles.includes(actor.role)) {
      throw new ForbiddenError('ROLE_NOT_ALLOWED', `Role ${actor.role} may not call this route.`);
    }
    return true;
  }
}
