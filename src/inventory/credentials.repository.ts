import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { chunks } from '../common/collections/chunks';
import { PreparedStatement, preparedQuery } from '../common/db/prepared-query';
import { SqlParams } from '../common/db/sql-params';
import { decodeTimeCursor, DEFAULT_PAGE_SIZE, encodeTimeCursor, Page, toPage } from '../common/pagination/pagination';
import type { Credential } from './credential';
import { CredentialEntity, CredentialStatus, Environment, PendingCredentialChange } from './entities/credential.entity';

/**
 * The hot paths (issuance, GET one, list, every lock) read and write
 * credential rows with plain SQL: the query builder and its entity hydration
 * cost more CPU than the query itself. These definitions keep that SQL in
 * step with the entity.
 */
const CREDENTIAL_COLUMNS = `id, client_id, agent_id, owner_id, type, environment, scopes, rate_limit_requests,
  rate_limit_per_seconds, ip_allowlist, secret_store, secret_ref, secret_version, secret_version_id, secret_sha256,
  secret_delivered_version, status, rotation_interval_days, grace_period_hours, last_rotated_at, next_rotation_at,
  last_used_at, requested_by, approved_by, approved_at, pending_change, created_at, updated_at, revoked_at, revoked_reason`;

/** GET one credential: a named prepared statement (see preparedQuery). */
export const CREDENTIAL_BY_ID: PreparedStatement = {
  name: 'credential_by_id',
  text: `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1`,
};

/** Credentials one lock or revoke statement names at most. */
const LOCK_CHUNK = 1000;

interface CredentialRow {
  id: string;
  client_id: string;
  agent_id: string;
  owner_id: string;
  type: Credential['type'];
  environment: Credential['environment'];
  scopes: string[];
  rate_limit_requests: number;
  rate_limit_per_seconds: number;
  ip_allowlist: string[];
  secret_store: Credential['secretStore'];
  secret_ref: string | null;
  secret_version: number | null;
  secret_version_id: string | null;
  secret_sha256: string | null;
  secret_delivered_version: number | null;
  status: Credential['status'];
  rotation_interval_days: number;
  grace_period_hours: number;
  last_rotated_at: Date | null;
  next_rotation_at: Date | null;
  last_used_at: Date | null;
  requested_by: string;
  approved_by: string | null;
  approved_at: Date | null;
  pending_change: Credential['pendingChange'];
  created_at: Date;
  updated_at: Date;
  revoked_at: Date | null;
  revoked_reason: string | null;
}

export interface CredentialListFilter {
  ownerId?: string;
  agentId?: string;
  status?: CredentialStatus;
  environment?: Environment;
  dueBefore?: Date;
  limit?: number;
  cursor?: string;
}

/** A rotated version to make current (see applyRotatedVersions). */
export interface RotatedVersion {
  id: string;
  fromVersion: number;
  toVersion: number;
  versionId: string;
  sha256: string;
  ref: string;
  nextRotationAt: Date;
}

/**
 * The credentials table, one method per purpose. Methods that take an
 * EntityManager run in the caller's transaction; the locks are row locks
 * (FOR UPDATE) held until it ends.
 */
@Injectable()
export class CredentialsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Every GET of one credential and every issuance's agent check come here: a prepared statement. */
  async findById(id: string): Promise<Credential | null> {
    const rows = await preparedQuery<CredentialRow>(this.dataSource, CREDENTIAL_BY_ID, [id]);
    return rows.length ? credentialFromRow(rows[0]) : null;
  }

  /** New credentials, in one INSERT. */
  async insert(em: EntityManager, credentials: Credential[]): Promise<void> {
    const params = new SqlParams();
    const rows = credentials.map((credential) => `(${credentialRowValues(credential).map((value) => params.add(value)).join(', ')})`);
    await em.query(`INSERT INTO credentials (${CREDENTIAL_COLUMNS}) VALUES ${rows.join(', ')}`, params.values);
  }

  /** Newest first by (createdAt, id); every filter has an index that serves this order. */
  async list(filter: CredentialListFilter): Promise<Page<Credential>> {
    const limit = filter.limit ?? DEFAULT_PAGE_SIZE;
    const after = decodeTimeCursor(filter.cursor);
    const params = new SqlParams();
    const where: string[] = [];
    if (filter.ownerId) where.push(`owner_id = ${params.add(filter.ownerId)}`);
    if (filter.agentId) where.push(`agent_id = ${params.add(filter.agentId)}`);
    if (filter.status) where.push(`status = ${params.add(filter.status)}`);
    if (filter.environment) where.push(`environment = ${params.add(filter.environment)}`);
    if (filter.dueBefore) where.push(`next_rotation_at < ${params.add(filter.dueBefore)}`);
    if (after) where.push(`(created_at, id) < (${params.add(after.createdAt)}, ${params.add(after.id)})`);
    const rows: CredentialRow[] = await this.dataSource.query(
      `SELECT ${CREDENTIAL_COLUMNS} FROM credentials
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY created_at DESC, id DESC LIMIT ${params.add(limit + 1)}`,
      params.values,
    );
    return toPage(rows.map(credentialFromRow), limit, encodeTimeCursor, (credential) => credential);
  }

  /** Loads a credential row-locked for a state change; every change and revocation starts here. */
  async lockForChange(em: EntityManager, id: string): Promise<Credential | null> {
    const rows: CredentialRow[] = await em.query(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1 FOR UPDATE`, [id]);
    return rows.length ? credentialFromRow(rows[0]) : null;
  }

  /**
   * Locks several credentials in id order (so concurrent batches, and
   * revocations, cannot deadlock), in one statement per thousand. Unknown ids
   * are simply absent from the result.
   */
  async lockManyForChange(em: EntityManager, ids: string[]): Promise<Credential[]> {
    const locked: Credential[] = [];
    // Lower-case uuids sort as Postgres orders uuids (by their bytes), so each chunk's locks follow the last one's.
    for (const chunk of chunks([...new Set(ids.map((id) => id.toLowerCase()))].sort(), LOCK_CHUNK)) {
      const rows: CredentialRow[] = await em.query(
        `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE id = ANY ($1::uuid[]) ORDER BY id FOR UPDATE`,
        [chunk],
      );
      locked.push(...rows.map(credentialFromRow));
    }
    return locked;
  }

  /** Locks every credential of an agent that is not yet revoked, in id order (so concurrent revocations cannot deadlock). */
  async lockUnrevokedOfAgent(em: EntityManager, agentId: string): Promise<Credential[]> {
    const rows: CredentialRow[] = await em.query(
      `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE agent_id = $1 AND status <> 'revoked' ORDER BY id FOR UPDATE`,
      [agentId],
    );
    return rows.map(credentialFromRow);
  }

  /** Revokes locked credentials, in one UPDATE per thousand; a change awaiting approval is dropped, nothing is due any more. */
  async markRevoked(em: EntityManager, ids: string[], at: Date, reason: string): Promise<void> {
    for (const chunk of chunks(ids, LOCK_CHUNK)) {
      await em.query(
        `UPDATE credentials SET status = 'revoked', revoked_at = $2, revoked_reason = $3, pending_change = NULL, next_rotation_at = NULL, updated_at = $2
          WHERE id = ANY ($1::uuid[])`,
        [chunk, at, reason],
      );
    }
  }

  /**
   * Makes rotated versions current in one statement, each only on a credential
   * still active at its `fromVersion`. Returns how many it updated.
   */
  async applyRotatedVersions(em: EntityManager, versions: RotatedVersion[], at: Date): Promise<number> {
    const [, updated]: [unknown, number] = await em.query(
      `UPDATE credentials c
          SET secret_version = i.to_version, secret_version_id = i.version_id, secret_sha256 = i.sha256, secret_ref = i.ref,
              last_rotated_at = $8, next_rotation_at = i.next_at, updated_at = $8
         FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
              AS i(id, from_version, to_version, version_id, sha256, ref, next_at)
        WHERE c.id = ANY ($1::uuid[]) AND c.id = i.id AND c.status = 'active' AND c.secret_version = i.from_version`,
      [
        versions.map((v) => v.id),
        versions.map((v) => v.fromVersion),
        versions.map((v) => v.toVersion),
        versions.map((v) => v.versionId),
        versions.map((v) => v.sha256),
        versions.map((v) => v.ref),
        versions.map((v) => v.nextRotationAt),
        at,
      ],
    );
    return updated;
  }

  /** The policy a change may touch (scopes, rate limit, allowlist, rotation policy), and the pending change. */
  async saveChanges(em: EntityManager, credential: Credential): Promise<void> {
    await em.update(CredentialEntity, { id: credential.id }, {
      scopes: credential.scopes,
      rateLimitRequests: credential.rateLimitRequests,
      rateLimitPerSeconds: credential.rateLimitPerSeconds,
      ipAllowlist: credential.ipAllowlist,
      rotationIntervalDays: credential.rotationIntervalDays,
      gracePeriodHours: credential.gracePeriodHours,
      nextRotationAt: credential.nextRotationAt,
      pendingChange: credential.pendingChange,
      updatedAt: credential.updatedAt,
    });
  }

  /** Holds a change for approval, or drops the one held (null). */
  async savePendingChange(em: EntityManager, id: string, pendingChange: PendingCredentialChange | null, at: Date): Promise<void> {
    await em.update(CredentialEntity, { id }, { pendingChange, updatedAt: at });
  }

  /** An approved credential: active, with its first secret's place in the store. */
  async saveApproved(em: EntityManager, credential: Credential): Promise<void> {
    await em.update(CredentialEntity, { id: credential.id }, {
      status: credential.status,
      approvedBy: credential.approvedBy,
      approvedAt: credential.approvedAt,
      secretRef: credential.secretRef,
      secretVersion: credential.secretVersion,
      secretVersionId: credential.secretVersionId,
      secretSha256: credential.secretSha256,
      nextRotationAt: credential.nextRotationAt,
      updatedAt: credential.updatedAt,
    });
  }

  async markRejected(em: EntityManager, id: string, at: Date): Promise<void> {
    await em.update(CredentialEntity, { id }, { status: 'rejected', updatedAt: at });
  }

  /** The secret of `version` has been handed out (see secretDeliveredVersion). */
  async markDelivered(em: EntityManager, id: string, version: number, at: Date): Promise<void> {
    await em.update(CredentialEntity, { id }, { secretDeliveredVersion: version, updatedAt: at });
  }
}

function credentialFromRow(row: CredentialRow): Credential {
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
function credentialRowValues(credential: Credential): unknown[] {
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
