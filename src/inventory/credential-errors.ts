import { ConflictError, ForbiddenError } from '../common/errors/domain-error';
import type { Actor } from '../auth/actor';
import type { CredentialEntity } from './entities/credential.entity';

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

export function assertNotRevoked(credential: Pick<CredentialEntity, 'status'>): void {
  if (credential.status === 'revoked') throw new CredentialRevokedError();
}

export function assertActive(credential: Pick<CredentialEntity, 'status'>): void {
  assertNotRevoked(credential);
  if (credential.status !== 'active') throw new CredentialNotActiveError(credential.status);
}

/** The second person of a second-person approval. */
export function assertNotRequester(actor: Actor, requestedBy: string): void {
  if (actor.tokenId === requestedBy) {
    throw new ForbiddenError('SELF_APPROVAL', 'The approver must be a different admin than the requester.');
  }
}
