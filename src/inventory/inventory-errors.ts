import type { Actor } from '../auth/actor';
import { ConflictError, ForbiddenError } from '../common/errors/domain-error';
import type { Credential } from './credential';

/** The inventory's domain errors, each defined once; other modules raise the credential ones through these too. */

/** 409: a revoked credential never changes again (no update, approval, claim, rotation or review decision). */
export class CredentialRevokedError extends ConflictError {
  constructor() {
    super('CREDENTIAL_REVOKED', 'This credential is revoked; a revoked credential never changes again.');
  }
}

/** 409: only an active credential is changed, claimed, rotated or reviewed. */
export class CredentialNotActiveError extends ConflictError {
  constructor(status: string) {
    super('CREDENTIAL_NOT_ACTIVE', `This credential is ${status}; only an active credential can be changed, claimed or rotated.`);
  }
}

/** 409: an owner's agents have distinct names. */
export class AgentNameTakenError extends ConflictError {
  constructor(name: string | undefined) {
    super('AGENT_NAME_TAKEN', `This owner already has an agent named ${name}.`);
  }
}

/** 409: a decommissioned agent is final: `action` says what it refused (get new credentials, be changed). */
export class AgentDecommissionedError extends ConflictError {
  constructor(action: string) {
    super('AGENT_DECOMMISSIONED', `A decommissioned agent cannot ${action}.`);
  }
}

/** 409: owners have distinct emails. */
export class OwnerEmailTakenError extends ConflictError {
  constructor(email: string | undefined) {
    super('OWNER_EMAIL_TAKEN', `An owner with email ${email} exists.`);
  }
}

export function assertNotRevoked(credential: Pick<Credential, 'status'>): void {
  if (credential.status === 'revoked') throw new CredentialRevokedError();
}

export function assertActive(credential: Pick<Credential, 'status'>): void {
  assertNotRevoked(credential);
  if (credential.status !== 'active') throw new CredentialNotActiveError(credential.status);
}

/** The second person of a second-person approval. */
export function assertNotRequester(actor: Actor, requestedBy: string): void {
  if (actor.tokenId === requestedBy) {
    throw new ForbiddenError('SELF_APPROVAL', 'The approver must be a different admin than the requester.');
  }
}
