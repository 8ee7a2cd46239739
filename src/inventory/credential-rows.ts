import type { PreparedStatement } from '../common/db/prepared-query';
import type { CredentialEntity } from './entities/credential.entity';

/**
 * The hot paths (issuance, GET one, list) read and write credential rows with
 * plain SQL: the query builder and its entity hydration cost more CPU than the
 * query itself. These definitions keep that SQL in step with the entity.
 */
export const CREDENTIAL_COLUMNS = `id, client_id, agent_id, owner_id, type, environment, scopes, rate_limit_requests,
  rate_limit_per_seconds, ip_allowlist, secret_store, secret_ref, secret_version, secret_version_id, secret_sha256,
  secret_delivered_version, status, rotation_interval_days, grace_period_hours, last_rotated_at, next_rotation_at,
  last_used_at, requested_by, approved_by, approved_at, pending_change, created_at, updated_at, revoked_at, revoked_reason`;

/** GET one credential: a named prepared statement (see preparedQuery). */
export const CREDENTIAL_BY_ID: PreparedStatement = {
  name: 'credential_by_id',
  text: `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1`,
};

export interface CredentialRow {
  id: string;
  client_id: string;
  agent_id: string;
  owner_id: string;
  type: CredentialEntity['type'];
  environment: CredentialEntity['environment'];
  scopes: string[];
  rate_limit_requests: number;
  rate_limit_per_seconds: number;
  ip_allowlist: string[];
  secret_store: CredentialEntity['secretStore'];
  secret_ref: string | null;
  secret_version: number | null;
  secret_version_id: string | null;
  secret_sha256: string | null;
  secret_delivered_version: number | null;
  status: CredentialEntity['status'];
  rotation_interval_days: number;
  grace_period_hours: number;
  last_rotated_at: Date | null;
  next_rotation_at: Date | null;
  last_used_at: Date | null;
  requested_by: string;
  approved_by: string | null;
  approved_at: Date | null;
  pending_change: CredentialEntity['pendingChange'];
  created_at: Date;
  updated_at: Date;
  revoked_at: Date | null;
  revoked_reason: string | null;
}

export function credentialFromRow(row: CredentialRow): CredentialEntity {
  return {
    id: row.id,
    clientId: row.client_id,
    agentId: row.agent_id,
    ownerId: row.owner_id,
    type: row.type,
    environment: row.environment,
    scopes: row.scopes,
    rateLimitRequests: row.rate_limit_requests,
    rateLimitPerSeconds: row.rate_limit_per_seconds,
    ipAllowlist: row.ip_allowlist,
    secretStore: row.secret_store,
    secretRef: row.secret_ref,
    secretVersion: row.secret_version,
    secretVersionId: row.secret_version_id,
    secretSha256: row.secret_sha256,
    secretDeliveredVersion: row.secret_delivered_version,
    status: row.status,
    rotationIntervalDays: row.rotation_interval_days,
    gracePeriodHours: row.grace_period_hours,
    lastRotatedAt: row.last_rotated_at,
    nextRotationAt: row.next_rotation_at,
    lastUsedAt: row.last_used_at,
    requestedBy: row.requested_by,
    approvedBy: row.approved_by,
    approvedAt: row.approved_at,
    pendingChange: row.pending_change,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    revokedAt: row.revoked_at,
    revokedReason: row.revoked_reason,
  };
}

/** The values of CREDENTIAL_COLUMNS, in order, for an INSERT of a new credential. */
export function credentialRowValues(credential: CredentialEntity): unknown[] {
  return [
    credential.id,
    credential.clientId,
    credential.agentId,
    credential.ownerId,
    credential.type,
    credential.environment,
    credential.scopes,
    credential.rateLimitRequests,
    credential.rateLimitPerSeconds,
    credential.ipAllowlist,
    credential.secretStore,
    credential.secretRef,
    credential.secretVersion,
    credential.secretVersionId,
    credential.secretSha256,
    credential.secretDeliveredVersion,
    credential.status,
    credential.rotationIntervalDays,
    credential.gracePeriodHours,
    credential.lastRotatedAt,
    credential.nextRotationAt,
    credential.lastUsedAt,
    credential.requestedBy,
    credential.approvedBy,
    credential.approvedAt,
    credential.pendingChange === null ? null : JSON.stringify(credential.pendingChange),
    credential.createdAt,
    credential.updatedAt,
    credential.revokedAt,
    credential.revokedReason,
  ];
}

const ROW_PARAMS = 30;

/** One INSERT of `count` new credential rows (their credentialRowValues, one after the other), in plain SQL like the reads. */
export function insertCredentialsSql(count: number): string {
  const rows = Array.from({ length: count }, (_, row) => {
    const placeholders = Array.from({ length: ROW_PARAMS }, (_, i) => `$${row * ROW_PARAMS + i + 1}`);
    return `(${placeholders.join(', ')})`;
  });
  return `INSERT INTO credentials (${CREDENTIAL_COLUMNS}) VALUES ${rows.join(', ')}`;
}

/** One INSERT of a new credential row. */
export const INSERT_CREDENTIAL_SQL = insertCredentialsSql(1);
