import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { chunks } from '../common/collections/chunks';
import { preparedQuery, PreparedStatement } from '../common/db/prepared-query';
import { SqlParams } from '../common/db/sql-params';
import { updateFields } from '../common/db/update-fields';
import { decodeTimeCursor, DEFAULT_PAGE_SIZE, encodeTimeCursor, Page, toPage } from '../common/pagination/pagination';
import type { Credential } from './credential';
import { CredentialEntity, CredentialStatus, Environment, PendingCredentialChange } from './entities/credential.entity';

/**
 * The hot paths (issuance, GET one, list, every lock) read and write
 * credential rows with plain SQL: the query builder and its entity hydration
 * cost more CPU than the query itself. One list of the entity's properties
 * gives both the columns (snake_case, as the naming strategy maps them) and
 * the aliases rows come back under, so a row is a Credential as it stands and
 * the SQL cannot drift from the entity.
 */
const PROPERTIES = [
  'id',
  'clientId',
  'agentId',
  'ownerId',
  'type',
  'environment',
  'scopes',
  'rateLimitRequests',
  'rateLimitPerSeconds',
  'ipAllowlist',
  'secretStore',
  'secretRef',
  'secretVersion',
  'secretVersionId',
  'secretSha256',
  'secretDeliveredVersion',
  'status',
  'rotationIntervalDays',
  'gracePeriodHours',
  'lastRotatedAt',
  'nextRotationAt',
  'lastUsedAt',
  'requestedBy',
  'approvedBy',
  'approvedAt',
  'pendingChange',
  'jwks',
  'createdAt',
  'updatedAt',
  'revokedAt',
  'revokedReason',
] as const satisfies ReadonlyArray<keyof Credential>;

/** Fails the build, naming it, if a property of Credential is missing from PROPERTIES. */
type MissingProperty = Exclude<keyof Credential, (typeof PROPERTIES)[number]>;
const EVERY_PROPERTY: [MissingProperty] extends [never] ? true : MissingProperty = true;
void EVERY_PROPERTY;

const columnOf = (property: string) => property.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
const CREDENTIAL_COLUMNS = PROPERTIES.map((p) => (columnOf(p) === p ? p : `${columnOf(p)} AS "${p}"`)).join(', ');
const INSERT_COLUMNS = PROPERTIES.map(columnOf).join(', ');

/** GET one credential: a named prepared statement (see preparedQuery). */
export const CREDENTIAL_BY_ID: PreparedStatement = {
  name: 'credential_by_id',
  text: `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1`,
};

/** A credential by its OAuth client id (the token endpoint's lookup). */
export const CREDENTIAL_BY_CLIENT_ID: PreparedStatement = {
  name: 'credential_by_client_id',
  text: `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE client_id = $1`,
};

/** Credentials one lock or revoke statement names at most. */
const LOCK_CHUNK = 1000;

/** What a bulk revocation selects by; every given field must hold. */
export interface RevocableFilter {
  credentialIds?: string[];
  agentIds?: string[];
  ownerId?: string;
  environment?: string;
  scopes?: string[];
  products?: string[];
  createdBefore?: Date;
  secretStore?: string;
}

export interface CredentialListFilter {
  ownerId?: string;
  agentId?: string;
  status?: CredentialStatus;
  environment?: Environment;
  dueBefore?: Date;
  /** true: awaiting approval, as a new credential or as a pending change of an active one; false: neither. */
  pendingApproval?: boolean;
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
    const rows = await preparedQuery<Credential>(this.dataSource, CREDENTIAL_BY_ID, [id]);
    return rows[0] ?? null;
  }

  /** The token endpoint looks every client up by its client id: a prepared statement on credentials_client_id_key. */
  async findByClientId(clientId: string): Promise<Credential | null> {
    const rows = await preparedQuery<Credential>(this.dataSource, CREDENTIAL_BY_CLIENT_ID, [clientId]);
    return rows[0] ?? null;
  }

  /** New credentials, in one INSERT. */
  async insert(em: EntityManager, credentials: Credential[]): Promise<void> {
    const params = new SqlParams();
    const rows = credentials.map(
      (credential) =>
        `(${rowValues(credential)
          .map((value) => params.add(value))
          .join(', ')})`,
    );
    await em.query(`INSERT INTO credentials (${INSERT_COLUMNS}) VALUES ${rows.join(', ')}`, params.values);
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
    if (filter.pendingApproval !== undefined) {
      const pending = `(status = 'pending_approval' OR pending_change IS NOT NULL)`;
      where.push(filter.pendingApproval ? pending : `NOT ${pending}`);
    }
    if (after) where.push(`(created_at, id) < (${params.add(after.createdAt)}, ${params.add(after.id)})`);
    const rows: Credential[] = await this.dataSource.query(
      `SELECT ${CREDENTIAL_COLUMNS} FROM credentials
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY created_at DESC, id DESC LIMIT ${params.add(limit + 1)}`,
      params.values,
    );
    return toPage(rows, limit, encodeTimeCursor, (credential) => credential);
  }

  /** The credential whose current secret has this SHA-256, through credentials_secret_sha256_idx. */
  async idBySecretSha256(em: EntityManager, sha256: string): Promise<string | null> {
    const rows: Array<{ id: string }> = await em.query(`SELECT id FROM credentials WHERE secret_sha256 = $1 LIMIT 1`, [sha256]);
    return rows[0]?.id ?? null;
  }

  /** Loads a credential row-locked for a state change; every change and revocation starts here. */
  async lockForChange(em: EntityManager, id: string): Promise<Credential | null> {
    const rows: Credential[] = await em.query(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1 FOR UPDATE`, [id]);
    return rows[0] ?? null;
  }

  /**
   * Locks several credentials in id order (so concurrent batches, and
   * revocations, cannot deadlock), in one statement per thousand. Unknown ids
   * are simply absent from the result, and with `skipLocked` so are rows
   * another transaction holds (never waited for).
   */
  async lockManyForChange(em: EntityManager, ids: string[], skipLocked = false): Promise<Credential[]> {
    const locked: Credential[] = [];
    // Lower-case uuids sort as Postgres orders uuids (by their bytes), so each chunk's locks follow the last one's.
    for (const chunk of chunks([...new Set(ids.map((id) => id.toLowerCase()))].sort(), LOCK_CHUNK)) {
      const rows: Credential[] = await em.query(
        `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE id = ANY ($1::uuid[]) ORDER BY id FOR UPDATE${skipLocked ? ' SKIP LOCKED' : ''}`,
        [chunk],
      );
      locked.push(...rows);
    }
    return locked;
  }

  /**
   * The credentials a bulk revocation matches: active or awaiting approval
   * (the statuses a revocation changes), every given field holding (`scopes`
   * and `products`: any of them), by id. At most `limit` ids, with how many
   * match in all.
   */
  async revocableMatching(
    filter: RevocableFilter,
    limit: number,
  ): Promise<{ total: number; matches: Array<{ id: string; ownerId: string }> }> {
    const params = new SqlParams();
    const where = [`status IN ('active', 'pending_approval')`];
    if (filter.credentialIds) where.push(`id = ANY (${params.add(filter.credentialIds)}::uuid[])`);
    if (filter.agentIds) where.push(`agent_id = ANY (${params.add(filter.agentIds)}::uuid[])`);
    if (filter.ownerId) where.push(`owner_id = ${params.add(filter.ownerId)}`);
    if (filter.environment) where.push(`environment = ${params.add(filter.environment)}`);
    if (filter.scopes) where.push(`scopes && ${params.add(filter.scopes)}::text[]`);
    if (filter.products) {
      where.push(
        `EXISTS (SELECT 1 FROM unnest(scopes) AS s(scope) WHERE split_part(s.scope, ':', 1) = ANY (${params.add(filter.products)}::text[]))`,
      );
    }
    if (filter.createdBefore) where.push(`created_at < ${params.add(filter.createdBefore)}`);
    if (filter.secretStore) where.push(`secret_store = ${params.add(filter.secretStore)}`);
    const rows: Array<{ id: string; ownerId: string; total: number }> = await this.dataSource.query(
      `SELECT id, owner_id AS "ownerId", count(*) OVER ()::int AS total FROM credentials
        WHERE ${where.join(' AND ')} ORDER BY id LIMIT ${params.add(limit)}`,
      params.values,
    );
    return { total: rows[0]?.total ?? 0, matches: rows.map(({ id, ownerId }) => ({ id, ownerId })) };
  }

  /** Locks every credential of an agent that is not yet revoked, in id order (so concurrent revocations cannot deadlock). */
  async lockUnrevokedOfAgent(em: EntityManager, agentId: string): Promise<Credential[]> {
    const rows: Credential[] = await em.query(
      `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE agent_id = $1 AND status <> 'revoked' ORDER BY id FOR UPDATE`,
      [agentId],
    );
    return rows;
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

  /** As `markRevoked`, each credential with its own time and reason (revocations of several requests committed together). */
  async markRevokedEach(em: EntityManager, changes: Array<{ id: string; at: Date; reason: string }>): Promise<void> {
    for (const chunk of chunks(changes, LOCK_CHUNK)) {
      await em.query(
        `UPDATE credentials c SET status = 'revoked', revoked_at = u.at, revoked_reason = u.reason, pending_change = NULL,
                next_rotation_at = NULL, updated_at = u.at
           FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS u(id, at, reason)
          WHERE c.id = ANY ($1::uuid[]) AND c.id = u.id`,
        [chunk.map((c) => c.id), chunk.map((c) => c.at), chunk.map((c) => c.reason)],
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
    await updateFields(em, CredentialEntity, credential, [
      'scopes',
      'rateLimitRequests',
      'rateLimitPerSeconds',
      'ipAllowlist',
      'rotationIntervalDays',
      'gracePeriodHours',
      'nextRotationAt',
      'pendingChange',
      'jwks',
      'updatedAt',
    ]);
  }

  /** Holds a change for approval, or drops the one held (null). */
  async savePendingChange(em: EntityManager, id: string, pendingChange: PendingCredentialChange | null, at: Date): Promise<void> {
    await em.update(CredentialEntity, { id }, { pendingChange, updatedAt: at });
  }

  /** An approved credential: active, with its first secret's place in the store. */
  async saveApproved(em: EntityManager, credential: Credential): Promise<void> {
    await updateFields(em, CredentialEntity, credential, [
      'status',
      'approvedBy',
      'approvedAt',
      'secretRef',
      'secretVersion',
      'secretVersionId',
      'secretSha256',
      'nextRotationAt',
      'updatedAt',
    ]);
  }

  async markRejected(em: EntityManager, id: string, at: Date): Promise<void> {
    await em.update(CredentialEntity, { id }, { status: 'rejected', updatedAt: at });
  }

  /**
   * Records the latest use of each credential (verification, src/enforcement):
   * moves `last_used_at` forward only, with the address of that use. Does not
   * touch `updated_at`: a use is not a change of the credential.
   */
  async recordLastUse(em: EntityManager, uses: Array<{ id: string; at: Date; ip: string | null }>): Promise<void> {
    if (uses.length === 0) return;
    const sorted = [...uses].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    await em.query(
      `UPDATE credentials c SET last_used_at = u.at, last_used_ip = coalesce(u.ip, c.last_used_ip)
         FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS u(id, at, ip)
        WHERE c.id = u.id AND (c.last_used_at IS NULL OR c.last_used_at < u.at)`,
      // Instants as ISO 8601 text: pg formats a Date field by field in local time (thousands per usage flush).
      [sorted.map((u) => u.id), sorted.map((u) => u.at.toISOString()), sorted.map((u) => u.ip)],
    );
  }

  /** The secret of `version` has been handed out (see secretDeliveredVersion). */
  async markDelivered(em: EntityManager, id: string, version: number, at: Date): Promise<void> {
    await em.update(CredentialEntity, { id }, { secretDeliveredVersion: version, updatedAt: at });
  }
}

/** A new credential's values in PROPERTIES order, for an INSERT. */
function rowValues(credential: Credential): unknown[] {
  return PROPERTIES.map((property) =>
    (property === 'pendingChange' || property === 'jwks') && credential[property] !== null
      ? JSON.stringify(credential[property])
      : credential[property],
  );
}
