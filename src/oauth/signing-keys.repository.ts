import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { OAuthSigningKeyEntity } from './entities/oauth-signing-key.entity';

const COLUMNS = `kid, algorithm, public_jwk AS "publicJwk", private_jwk_sealed AS "privateJwkSealed", created_at AS "createdAt",
  activates_at AS "activatesAt", retires_at AS "retiresAt", expires_at AS "expiresAt"`;

/** The signing keys table, one method per purpose. */
@Injectable()
export class SigningKeysRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Every key not yet expired at `at` (published or about to be), oldest signing window first. */
  unexpired(at: Date): Promise<OAuthSigningKeyEntity[]> {
    return this.dataSource.query(`SELECT ${COLUMNS} FROM oauth_signing_keys WHERE expires_at > $1 ORDER BY activates_at`, [at]);
  }

  /** The key with the latest signing window, in the caller's transaction. */
  async latest(em: EntityManager): Promise<OAuthSigningKeyEntity | null> {
    const rows: OAuthSigningKeyEntity[] = await em.query(`SELECT ${COLUMNS} FROM oauth_signing_keys ORDER BY activates_at DESC LIMIT 1`);
    return rows[0] ?? null;
  }

  async insert(em: EntityManager, key: OAuthSigningKeyEntity): Promise<void> {
    await em.query(
      `INSERT INTO oauth_signing_keys (kid, algorithm, public_jwk, private_jwk_sealed, created_at, activates_at, retires_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        key.kid,
        key.algorithm,
        JSON.stringify(key.publicJwk),
        JSON.stringify(key.privateJwkSealed),
        key.createdAt,
        key.activatesAt,
        key.retiresAt,
        key.expiresAt,
      ],
    );
  }

  /** Moves a key's end of signing later (its successor could not be pre-published in time), and its expiry with it. */
  async extendSigning(em: EntityManager, kid: string, retiresAt: Date, expiresAt: Date): Promise<void> {
    await em.query(`UPDATE oauth_signing_keys SET retires_at = $2, expires_at = $3 WHERE kid = $1`, [kid, retiresAt, expiresAt]);
  }
}
