import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { preparedQuery, PreparedStatement } from '../common/db/prepared-query';

/** The revoked tokens of one client: read when a replica loads the client's state (src/oauth/token-client-cache.ts). */
const REVOKED_OF_CREDENTIAL: PreparedStatement = {
  name: 'oauth_revoked_of_credential',
  text: `SELECT jti FROM oauth_revoked_tokens WHERE credential_id = $1`,
};

/** Access tokens revoked by their client, one method per purpose. */
@Injectable()
export class RevokedTokensRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async jtisOf(credentialId: string): Promise<string[]> {
    return (await preparedQuery<{ jti: string }>(this.dataSource, REVOKED_OF_CREDENTIAL, [credentialId])).map((row) => row.jti);
  }

  /** Records a revocation; false when the token was revoked already. */
  async insert(em: EntityManager, row: { jti: string; credentialId: string; revokedAt: Date; expiresAt: Date }): Promise<boolean> {
    const rows: unknown[] = await em.query(
      `INSERT INTO oauth_revoked_tokens (jti, credential_id, revoked_at, expires_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (jti) DO NOTHING RETURNING jti`,
      [row.jti, row.credentialId, row.revokedAt, row.expiresAt],
    );
    return rows.length > 0;
  }

  /** Forgets revocations of tokens that have expired by `at`; returns how many. */
  async deleteExpired(at: Date, limit: number): Promise<number> {
    const rows: unknown[] = await this.dataSource.query(
      `DELETE FROM oauth_revoked_tokens WHERE jti IN (SELECT jti FROM oauth_revoked_tokens WHERE expires_at <= $1 LIMIT $2) RETURNING jti`,
      [at, limit],
    );
    return rows.length;
  }
}
