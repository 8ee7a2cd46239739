import { Body, Controller, Delete, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiCookieAuth, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';

import { Public } from '../auth/decorators';
import { UnauthenticatedError } from '../common/errors/domain-error';
import { ApiOp, ApiProblems } from '../common/http/api-docs';
import type { ConsoleRequest } from './console-http';
import { ConsoleSessionsService, ResolvedSession, SESSION_TTL_MS } from './console-sessions.service';
import { ConsoleSessionDto, SignInDto } from './dto/console-session.dto';
import { clearedSessionCookie, isHttps, SESSION_COOKIE, sessionCookie } from './session-cookie';

/**
 * Sign-in, session and sign-out of the web console. The routes are public to
 * the bearer guard: sign-in takes the token in its body, and the other two
 * need the session cookie (the session hook in console-http.ts resolves it and
 * checks X-CSRF-Token on DELETE).
 */
@ApiTags('console')
@Controller('console/session')
export class ConsoleSessionController {
  constructor(private readonly sessions: ConsoleSessionsService) {}

  @Post()
  @Public()
  @HttpCode(204)
  @ApiOp('signInToConsole', 'Exchange an API token for a console session cookie (12 h)', { security: [] })
  @ApiProblems(400, { status: 401, description: 'The token is unknown or revoked' }, 413, 415, 503)
  @ApiNoContentResponse({
    description: `Signed in: Set-Cookie ${SESSION_COOKIE} (HttpOnly, SameSite=Strict, Secure behind https)`,
    headers: { 'Set-Cookie': { description: 'The session cookie', schema: { type: 'string' } } },
  })
  async signIn(@Body() body: SignInDto, @Req() request: ConsoleRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    const { sessionId } = await this.sessions.signIn(body.token, String(request.id));
    void reply.header('set-cookie', sessionCookie(sessionId, SESSION_TTL_MS / 1000, isHttps(request)));
    void reply.header('cache-control', 'no-store');
  }

  @Get()
  @Public()
  @ApiCookieAuth('consoleSession')
  @ApiOp('getConsoleSession', "The console session's role, owner, token name and CSRF token")
  @ApiProblems({ status: 401, description: 'No live console session (signed out, expired, or its token revoked)' }, 503)
  @ApiOkResponse({ type: ConsoleSessionDto })
  get(@Req() request: ConsoleRequest, @Res({ passthrough: true }) reply: FastifyReply): ConsoleSessionDto {
    const { session, actor, csrfToken } = sessionOf(request);
    void reply.header('cache-control', 'no-store');
    return {
      role: actor.role as ConsoleSessionDto['role'],
      ownerId: actor.ownerId,
      tokenName: session.tokenName,
      tokenId: session.tokenId,
      csrfToken,
      expiresAt: session.expiresAt.toISOString(),
    };
  }

  @Delete()
  @Public()
  @ApiCookieAuth('consoleSession')
  @HttpCode(204)
  @ApiOp('signOutOfConsole', 'Sign out: the session is revoked at once')
  @ApiProblems(
    { status: 401, description: 'No live console session' },
    { status: 403, description: 'X-CSRF-Token is missing or wrong' },
    503,
  )
  @ApiNoContentResponse({ description: 'Signed out; the cookie is cleared' })
  async signOut(@Req() request: ConsoleRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    const { session, actor } = sessionOf(request);
    await this.sessions.signOut({ actor, requestId: String(request.id) }, session);
    void reply.header('set-cookie', clearedSessionCookie(isHttps(request)));
  }
}

function sessionOf(request: ConsoleRequest): ResolvedSession {
  if (!request.consoleSession) throw new UnauthenticatedError('Sign in to the console first (POST /console/session).');
  return request.consoleSession;
}
