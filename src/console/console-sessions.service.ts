import { createHmac, timingSafeEqual } from 'node:crypto';

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import type { Actor, RequestContext } from '../auth/actor';
import { sha256Hex } from '../auth/token-hash';
import { TokensService } from '../auth/tokens.service';
import { Clock } from '../common/clock/clock';
import { UnauthenticatedError } from '../common/errors/domain-error';
import { RandomSource } from '../common/random/random-source';
import { ConsoleSessionsRepository, LiveSession } from './console-sessions.repository';

/** How long a console session lasts from sign-in. */
export const SESSION_TTL_MS = 12 * 3600 * 1000;

/** A live session and the actor its token stands for. */
export interface ResolvedSession {
  session: LiveSession;
  actor: Actor;
  csrfToken: string;
}

/**
 * Console sessions: an API token exchanged for a random session id, which the
 * browser keeps in an HttpOnly cookie. Postgres keeps only digests; the CSRF
 * token is derived from the session id (HMAC), so it needs no storage and is
 * worth nothing without the cookie it belongs to.
 */
@Injectable()
export class ConsoleSessionsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: ConsoleSessionsRepository,
    private readonly tokens: TokensService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  /** Opens a session for a live API token; 401 for an unknown or revoked one. Returns the session id (the cookie value). */
  async signIn(token: string, requestId: string): Promise<{ sessionId: string; expiresAt: Date }> {
    const identity = await this.tokens.identify(token);
    if (!identity || identity.actor.role === 'system') throw new UnauthenticatedError('The token is unknown or revoked.');
    const sessionId = this.random.bytes(32).toString('base64url');
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + SESSION_TTL_MS);
    const id = this.random.uuid();
    await this.dataSource.transaction(async (em) => {
      await this.repository.insert(em, {
        id,
        sessionSha256: sha256Hex(sessionId),
        tokenId: identity.actor.tokenId,
        tokenSha256: identity.tokenSha256,
        tokenName: identity.name,
        role: identity.actor.role as ResolvedSessionRole,
        ownerId: identity.actor.ownerId,
        createdAt: now,
        expiresAt,
        revokedAt: null,
      });
      await this.audit.record(
        em,
        { actor: identity.actor, requestId },
        {
          action: 'console.signed_in',
          targetType: 'console_session',
          targetId: id,
          data: { tokenName: identity.name, role: identity.actor.role, expiresAt: expiresAt.toISOString() },
        },
      );
    });
    return { sessionId, expiresAt };
  }

  /** The live session of a cookie value, or null: unknown, expired, signed out, or its token revoked. */
  async resolve(sessionId: string): Promise<ResolvedSession | null> {
    if (!sessionId) return null;
    const session = await this.repository.liveBySha256(sha256Hex(sessionId), this.clock.now());
    if (!session) return null;
    const actor = await this.tokens.authenticateDigest(session.tokenSha256);
    if (!actor) return null;
    return { session, actor, csrfToken: csrfTokenFor(sessionId) };
  }

  /** Signs a session out; a second sign-out changes nothing. */
  async signOut(ctx: RequestContext, session: LiveSession): Promise<void> {
    await this.dataSource.transaction(async (em) => {
      if (!(await this.repository.markRevoked(em, session.id, this.clock.now()))) return;
      await this.audit.record(em, ctx, {
        action: 'console.signed_out',
        targetType: 'console_session',
        targetId: session.id,
        data: { tokenName: session.tokenName },
      });
    });
  }
}

type ResolvedSessionRole = Exclude<Actor['role'], 'system'>;

/** The session's CSRF token: HMAC-SHA256 of a fixed label under the session id. */
export function csrfTokenFor(sessionId: string): string {
  return createHmac('sha256', sessionId).update('agc-console-csrf').digest('base64url');
}

/** Constant-time check of a presented X-CSRF-Token against the session's. */
export function csrfTokenMatches(expected: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}
