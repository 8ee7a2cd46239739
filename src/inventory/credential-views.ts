import type { OutboxEventInput } from '../gateways/event-outbox.service';
import type { Credential } from './credential';
import type { CredentialDto } from './dto/credential.dto';

/**
 * What a credential looks like outside the inventory: to API clients
 * (toCredentialView, the CredentialDto the API documents), to the gateways
 * (credentialEventData) and in the audit log (describeCredential). None of
 * them carries the secret.
 */

export function toCredentialView(credential: Credential): CredentialDto {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: credential.id,
    clientId: credential.clientId,
    agentId: credential.agentId,
    ownerId: credential.ownerId,
    type: credential.type,
    environment: credential.environment,
    scopes: credential.scopes,
    rateLimit: rateLimitOf(credential),
    ipAllowlist: credential.ipAllowlist,
    secretStore: credential.secretStore,
    secretRef: credential.secretRef,
    secretVersion: credential.secretVersion,
    status: credential.status,
    rotationIntervalDays: credential.rotationIntervalDays,
    gracePeriodHours: credential.gracePeriodHours,
    lastRotatedAt: iso(credential.lastRotatedAt),
    nextRotationAt: iso(credential.nextRotationAt),
    lastUsedAt: iso(credential.lastUsedAt),
    createdAt: credential.createdAt.toISOString(),
    updatedAt: credential.updatedAt.toISOString(),
    revokedAt: iso(credential.revokedAt),
    revokedReason: credential.revokedReason,
    requestedBy: credential.requestedBy,
    approvedBy: credential.approvedBy,
    pendingChange: credential.pendingChange ? { ...credential.pendingChange, status: 'pending_approval' } : null,
    jwks: credential.jwks,
  };
}

/**
 * The `data` of a credential event: what a gateway needs to enforce the
 * credential. Never the secret: its SHA-256 and where it lives. Event-specific
 * fields (reason, graceEndsAt, ...) are added by the publisher.
 */
export function credentialEventData(credential: Credential): Record<string, unknown> {
  return {
    credentialId: credential.id,
    clientId: credential.clientId,
    ...policyOf(credential),
    secretSha256: credential.secretSha256,
    secretRef: credential.secretRef,
  };
}

/** The event that tells the gateways about a credential's current terms (in the outbox, with the change). */
export function credentialTermsEvent(type: 'credential.issued' | 'credential.updated', credential: Credential): OutboxEventInput {
  return { type, credentialId: credential.id, environment: credential.environment, data: credentialEventData(credential) };
}

/** What the audit log records of a credential: its policy, never its secret. */
export function describeCredential(credential: Credential): Record<string, unknown> {
  const { secretVersion, ...policy } = policyOf(credential);
  return {
    ...policy,
    secretStore: credential.secretStore,
    secretVersion,
    rotationIntervalDays: credential.rotationIntervalDays,
    gracePeriodHours: credential.gracePeriodHours,
  };
}

function rateLimitOf(credential: Credential): CredentialDto['rateLimit'] {
  return { requests: credential.rateLimitRequests, perSeconds: credential.rateLimitPerSeconds };
}

/** The fields events and audit entries share, in the order both write them. */
function policyOf(credential: Credential) {
  return {
    agentId: credential.agentId,
    ownerId: credential.ownerId,
    type: credential.type,
    environment: credential.environment,
    status: credential.status,
    scopes: credential.scopes,
    rateLimit: rateLimitOf(credential),
    ipAllowlist: credential.ipAllowlist,
    secretVersion: credential.secretVersion,
  };
}
