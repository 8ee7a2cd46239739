import type { DataSource } from 'typeorm';

import type { SealedValue } from '../common/crypto/secret-box';
import { LocalSecretVersionEntity } from './entities/local-secret-version.entity';

/** A version's address in the embedded store. */
export interface VersionKey {
  credentialId: string;
  version: number;
}

export interface NewVersion extends VersionKey {
  requestToken: string;
  sealed: SealedValue;
  state: 'current' | 'pending';
  createdAt: Date;
}

/** What opening a version needs, as plain SQL returns it. */
export interface SealedRow {
  credential_id: string;
  version: number;
  key_fingerprint: string;
  nonce: Buffer | null;
  ciphertext: Buffer | null;
  auth_tag: Buffer | null;
}

/**
 * The embedded store's table, local_secret_versions: one row per version,
 * sealed. Each method is one statement for a whole batch (LocalSecretStore
 * gathers concurrent calls into batches).
 */
export class LocalSecretVersionsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Inserts new versions; a version that exists already is skipped. Returns those it inserted. */
  insert(rows: NewVersion[]): Promise<VersionKey[]> {
    return this.dataSource.query(
      `INSERT INTO local_secret_versions
         (credential_id, version, request_token, key_fingerprint, nonce, ciphertext, auth_tag, state, created_at)
       SELECT credential_id, version, request_token, key_fingerprint,
              decode(nonce, 'hex'), decode(ciphertext, 'hex'), decode(auth_tag, 'hex'), state, created_at
         FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[])
              AS i(credential_id, version, request_token, key_fingerprint, nonce, ciphertext, auth_tag, state, created_at)
       ON CONFLICT (credential_id, version) DO NOTHING
       RETURNING credential_id AS "credentialId", version`,
      [
        rows.map((r) => r.credentialId),
        rows.map((r) => r.version),
        rows.map((r) => r.requestToken),
        rows.map((r) => r.sealed.keyFingerprint),
        rows.map((r) => r.sealed.nonce.toString('hex')),
        rows.map((r) => r.sealed.ciphertext.toString('hex')),
        rows.map((r) => r.sealed.authTag.toString('hex')),
        rows.map((r) => r.state),
        rows.map((r) => r.createdAt),
      ],
    );
  }

  /** The versions asked for that exist, by primary key. */
  findMany(keys: VersionKey[]): Promise<SealedRow[]> {
    return this.dataSource.query(
      `SELECT v.credential_id, v.version, v.key_fingerprint, v.nonce, v.ciphertext, v.auth_tag
         FROM local_secret_versions v
         JOIN unnest($1::uuid[], $2::int[]) AS k(credential_id, version) ON k.credential_id = v.credential_id AND k.version = v.version
        WHERE v.credential_id = ANY ($1::uuid[])`,
      [keys.map((k) => k.credentialId), keys.map((k) => k.version)],
    );
  }

  /** Each version that still holds its ciphertext becomes current, and its credential's current one previous. Returns those promoted. */
  promote(keys: VersionKey[]): Promise<VersionKey[]> {
    return this.dataSource.query(
      `WITH ready AS (
         SELECT v.credential_id, v.version
           FROM local_secret_versions v
           JOIN unnest($1::uuid[], $2::int[]) AS k(credential_id, version) ON k.credential_id = v.credential_id AND k.version = v.version
          WHERE v.credential_id = ANY ($1::uuid[]) AND v.ciphertext IS NOT NULL),
       changed AS (
         UPDATE local_secret_versions l
            SET state = CASE WHEN l.version = ready.version THEN 'current' ELSE 'previous' END
           FROM ready
          WHERE l.credential_id = ANY ($1::uuid[]) AND l.credential_id = ready.credential_id
            AND (l.version = ready.version OR l.state = 'current')
          RETURNING l.credential_id, l.version)
       SELECT credential_id AS "credentialId", version FROM changed`,
      [keys.map((k) => k.credentialId), keys.map((k) => k.version)],
    );
  }

  /** Drops a version's sealed bytes; the row stays, saying when. */
  async destroy(key: VersionKey, at: Date): Promise<void> {
    await this.dataSource
      .createQueryBuilder()
      .update(LocalSecretVersionEntity)
      .set({ nonce: null, ciphertext: null, authTag: null, destroyedAt: at })
      .where('credential_id = :id AND version = :version AND destroyed_at IS NULL', { id: key.credentialId, version: key.version })
      .execute();
  }

  /** Every version of these credentials, in one DELETE. */
  async deleteOf(credentialIds: string[]): Promise<void> {
    await this.dataSource.query('DELETE FROM local_secret_versions WHERE credential_id = ANY ($1::uuid[])', [credentialIds]);
  }

  /** Whether the table answers (readiness). */
  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1 FROM local_secret_versions LIMIT 1');
  }
}
