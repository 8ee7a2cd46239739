import type { Credential } from './credential';
import type { PublicJwkSet } from './entities/credential.entity';
import { nextRotationAt } from './rotation-schedule';

/** A credential's state in memory: a new one, a change applied to it, a review's reduction checked. */

/** What a new credential is made of: everything else starts empty. */
export type NewCredential = Pick<
  Credential,
  | 'id'
  | 'clientId'
  | 'agentId'
  | 'ownerId'
  | 'type'
  | 'environment'
  | 'scopes'
  | 'rateLimitRequests'
  | 'rateLimitPerSeconds'
  | 'ipAllowlist'
  | 'secretStore'
  | 'status'
  | 'rotationIntervalDays'
  | 'gracePeriodHours'
  | 'requestedBy'
>;

/** A credential as issuance writes it: no secret yet (it is written before the row), never rotated, used or approved. */
export function newCredential(fields: NewCredential, now: Date): Credential {
  return {
    ...fields,
    secretRef: null,
    secretVersion: null,
    secretVersionId: null,
    secretSha256: null,
    secretDeliveredVersion: null,
    lastRotatedAt: null,
    nextRotationAt: null,
    lastUsedAt: null,
    approvedBy: null,
    approvedAt: null,
    pendingChange: null,
    jwks: null,
    createdAt: now,
    updatedAt: now,
    revokedAt: null,
    revokedReason: null,
  };
}

/** What PATCH may change of a credential; held as its pending change when it adds a delete/admin scope. */
export interface CredentialChanges {
  scopes?: string[];
  rateLimit?: { requests: number; perSeconds: number };
  ipAllowlist?: string[];
  rotationIntervalDays?: number;
  gracePeriodHours?: number;
  /** Checked already by jwks-policy.ts; never part of a change held for approval. */
  jwks?: PublicJwkSet;
}

/**
 * Applies a change (checked already) to a credential in memory. A new
 * rotation interval moves the next rotation to that interval after the last
 * one (or the approval, or the creation), less a jitter drawn from `jitter`
 * only then.
 */
export function applyChanges(credential: Credential, changes: CredentialChanges, now: Date, jitter: () => number): void {
  if (changes.scopes) credential.scopes = changes.scopes;
  if (changes.rateLimit) {
    credential.rateLimitRequests = changes.rateLimit.requests;
    credential.rateLimitPerSeconds = changes.rateLimit.perSeconds;
  }
  if (changes.ipAllowlist) credential.ipAllowlist = changes.ipAllowlist;
  if (changes.jwks) credential.jwks = changes.jwks;
  if (changes.gracePeriodHours !== undefined) credential.gracePeriodHours = changes.gracePeriodHours;
  if (changes.rotationIntervalDays !== undefined && changes.rotationIntervalDays !== credential.rotationIntervalDays) {
    credential.rotationIntervalDays = changes.rotationIntervalDays;
    const from = credential.lastRotatedAt ?? credential.approvedAt ?? credential.createdAt;
    credential.nextRotationAt = nextRotationAt(from, changes.rotationIntervalDays, jitter());
  }
  credential.updatedAt = now;
}

/** Why `scopes` is not a non-empty strict subset of `current`, or null when it is. */
export function strictSubsetProblem(scopes: string[], current: string[]): string | null {
  const have = new Set(current);
  if (scopes.length === 0) return 'must keep at least one scope';
  if (new Set(scopes).size !== scopes.length) return 'must not repeat a scope';
  const foreign = scopes.filter((scope) => !have.has(scope));
  if (foreign.length) return `must be a subset of the credential's current scopes; not among them: ${foreign.join(', ')}`;
  if (scopes.length >= have.size) return "must leave out at least one of the credential's current scopes";
  return null;
}
