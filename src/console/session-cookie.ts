import { parse, serialize } from 'cookie';
import type { FastifyRequest } from 'fastify';

/** The console session cookie's name. */
export const SESSION_COOKIE = 'agc_session';

/** The session id a request carries, if any. */
export function sessionIdOf(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  return parse(header)[SESSION_COOKIE] || undefined;
}

/**
 * Whether the browser reached the service over https: the connection itself,
 * or a TLS-terminating proxy's `X-Forwarded-Proto`. Fastify's trustProxy stays
 * off (it would change request.ip for everything else); this header only
 * decides the cookie's Secure flag, and a client that forges `https` over
 * plain http only locks itself out.
 */
export function isHttps(request: FastifyRequest): boolean {
  if (request.protocol === 'https') return true;
  const forwarded = request.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  return first === 'https';
}

/** Set-Cookie for a new session: HttpOnly, SameSite=Strict, Secure behind https, for the session's lifetime. */
export function sessionCookie(sessionId: string, maxAgeSeconds: number, secure: boolean): string {
  return serialize(SESSION_COOKIE, sessionId, { httpOnly: true, sameSite: 'strict', secure, path: '/', maxAge: maxAgeSeconds });
}

/** Set-Cookie that removes the session cookie (sign-out). */
export function clearedSessionCookie(secure: boolean): string {
  return serialize(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'strict', secure, path: '/', maxAge: 0, expires: new Date(0) });
}
