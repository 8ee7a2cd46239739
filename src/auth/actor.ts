import { ForbiddenError } from '../common/errors/domain-error';
import type { Redaction } from '../common/http/free-text';

export const ROLES = ['admin', 'owner', 'responder', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Who is acting. Tokens act for people and pipelines; `system` acts for the
 * scheduler and workers (rotation sweeps, review deadlines).
 */
export interface Actor {
  tokenId: string;
  role: Role | 'system';
  ownerId: string | null;
}

/** What every state-changing service call needs: who, and which request, for the audit log. */
export interface RequestContext {
  actor: Actor;
  requestId: string;
  /**
   * Secret-shaped values the request boundary replaced in the body's free-text
   * fields (common/http/free-text.ts): the audit events of the request record
   * the fields, and a revocation compares the hashes with the credential's own.
   * Absent for work no request body started.
   */
  redactions?: readonly Redaction[];
}

/** The token id recorded for the bootstrap ADMIN_TOKEN, which has no row. */
export const BOOTSTRAP_ADMIN_TOKEN_ID = 'bootstrap-admin';

export function systemContext(component: string, requestId: string): RequestContext {
  return { actor: { tokenId: `system:${component}`, role: 'system', ownerId: null }, requestId };
}

/** Full read access across owners. */
export function canReadAll(actor: Actor): boolean {
  return actor.role === 'admin' || actor.role === 'responder' || actor.role === 'auditor' || actor.role === 'system';
}

/**
 * Owners only ever touch their own owner's resources; admins and the system
 * touch everything. Throws 403 otherwise.
 */
export function assertOwnerAccess(actor: Actor, ownerId: string, what = 'resource'): void {
  if (actor.role === 'admin' || actor.role === 'system') return;
  if (actor.role === 'owner' && actor.ownerId === ownerId) return;
  throw new ForbiddenError('OWNER_MISMATCH', `This token may not act on another owner's ${what}.`);
}

/** Like assertOwnerAccess, for reads: responders and auditors read everything. */
export function assertOwnerRead(actor: Actor, ownerId: string, what = 'resource'): void {
  if (canReadAll(actor)) return;
  assertOwnerAccess(actor, ownerId, what);
}
