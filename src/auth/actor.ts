import { ForbiddenError } from '../common/errors/domain-error';
import type { Redaction } from '../common/http/free-text';

export const ROLES = ['admin', 'owner', 'responder', 'auditor', 'gateway'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Who is acting. Tokens act for people and pipelines; `system` acts for the
 * scheduler and workers (rotation sweeps, review deadlines).
 */
export interface Actor {
  tokenId: string;
  role: Role | 'system';
  ownerId: string | null;
  /** The gateway a `gateway` token is bound to; null for every other role. */
  gatewayId: string | null;
}

/** The actor as audit events and revocations record it (who, in which role, for which owner). */
export type RecordedActor = Pick<Actor, 'tokenId' | 'role' | 'ownerId'>;

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
  return { actor: { tokenId: `system:${component}`, role: 'system', ownerId: null, gatewayId: null }, requestId };
}

/*
 * The access rules, all of them here: who may read, change, revoke or rotate
 * what, by the actor's role and owner. Route roles (@Roles) decide who reaches
 * a use case at all; these decide whose data it may touch there.
 */

/** 403: the data belongs to another owner (or the token to none). */
export class OwnerMismatchError extends ForbiddenError {
  constructor(message: string) {
    super('OWNER_MISMATCH', message);
  }
}

/** Full read access across owners. */
export function canReadAll(actor: Actor): boolean {
  return actor.role === 'admin' || actor.role === 'responder' || actor.role === 'auditor' || actor.role === 'system';
}

/** Whether the actor is the owner `ownerId` (null: data of no single owner, which no owner token owns). */
function isOwner(actor: Actor, ownerId: string | null): boolean {
  return actor.role === 'owner' && actor.ownerId !== null && actor.ownerId === ownerId;
}

/**
 * Owners only ever touch their own owner's resources; admins and the system
 * touch everything. Throws 403 otherwise.
 */
export function assertOwnerAccess(actor: Actor, ownerId: string, what = 'resource'): void {
  if (actor.role === 'admin' || actor.role === 'system' || isOwner(actor, ownerId)) return;
  throw new OwnerMismatchError(`This token may not act on another owner's ${what}.`);
}

/** Like assertOwnerAccess, for reads: responders and auditors read everything. */
export function assertOwnerRead(actor: Actor, ownerId: string | null, what = 'resource'): void {
  if (canReadAll(actor) || isOwner(actor, ownerId)) return;
  throw new OwnerMismatchError(`This token may not read another owner's ${what}.`);
}

/**
 * The incident rule: responders (and admins, and the system) revoke and
 * rotate any credential; an owner only its own. Auditors never reach these
 * use cases (route roles).
 */
export function assertMayRespond(actor: Actor, ownerId: string, action: 'revoke' | 'rotate', what: string): void {
  if (actor.role === 'admin' || actor.role === 'responder' || actor.role === 'system' || isOwner(actor, ownerId)) return;
  throw new OwnerMismatchError(`This token may not ${action} another owner's ${what}.`);
}

/**
 * The owner filter a list runs with: owners always see only their own rows and
 * get a 403 for asking about another owner; readers-of-all filter as asked.
 */
export function scopedOwnerFilter(actor: Actor, requested: string | undefined): string | undefined {
  if (canReadAll(actor)) return requested;
  if (requested && requested !== actor.ownerId) {
    throw new OwnerMismatchError("This token may not list another owner's resources.");
  }
  if (!actor.ownerId) throw new OwnerMismatchError('This token is not bound to an owner.');
  return actor.ownerId;
}

/**
 * A gateway token acts only for its own gateway (its enforcement and sync
 * routes); admins and the system act for any gateway. Throws 403 otherwise.
 */
export function assertGatewayAccess(actor: Actor, gatewayId: string): void {
  if (actor.role === 'admin' || actor.role === 'system') return;
  if (actor.role === 'gateway' && actor.gatewayId === gatewayId) return;
  throw new GatewayMismatchError();
}

/** 403: a gateway token used for another gateway's routes. */
export class GatewayMismatchError extends ForbiddenError {
  constructor() {
    super('GATEWAY_MISMATCH', 'This token may not act for another gateway.');
  }
}
