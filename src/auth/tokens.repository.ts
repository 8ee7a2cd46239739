import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, IsNull } from 'typeorm';

import { preparedQuery, PreparedStatement } from '../common/db/prepared-query';
import { TableRepository } from '../common/db/table-repository';
import type { Page } from '../common/pagination/pagination';
import type { Actor, Role } from './actor';
import { API_TOKEN_CHANGES_CHANNEL } from './api-token-cache';
import { ApiTokenEntity } from './entities/api-token.entity';

/** A live (not revoked) API token by the hex SHA-256 of the presented secret: every request's lookup. */
export const TOKEN_BY_SHA256: PreparedStatement = {
  name: 'auth_token_by_sha256',
  text: 'SELECT id, role, owner_id, gateway_id FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL',
};

/** The api_tokens table, one method per purpose. */
@Injectable()
export class TokensRepository extends TableRepository<ApiTokenEntity> {
  constructor(@InjectDataSource() dataSource: DataSource) {
    super(dataSource, ApiTokenEntity, 't');
  }

  /** The actor of a live token, by its digest. This runs on every request: a prepared statement, not the query builder. */
  async actorBySha256(sha256Hex: string): Promise<Actor | null> {
    const rows = await preparedQuery<{ id: string; role: Role; owner_id: string | null; gateway_id: string | null }>(
      this.dataSource,
      TOKEN_BY_SHA256,
      [sha256Hex],
    );
    if (!rows.length) return null;
    return { tokenId: rows[0].id, role: rows[0].role, ownerId: rows[0].owner_id, gatewayId: rows[0].gateway_id };
  }

  /** A live token's row by its digest (console sign-in, which also needs the name). */
  liveBySha256(sha256Hex: string): Promise<ApiTokenEntity | null> {
    return this.dataSource.getRepository(ApiTokenEntity).findOne({ where: { tokenSha256: sha256Hex, revokedAt: IsNull() } });
  }

  list(query: { limit?: number; cursor?: string }): Promise<Page<ApiTokenEntity>> {
    return this.page(query);
  }

  async markRevoked(em: EntityManager, id: string, at: Date): Promise<void> {
    await em.update(ApiTokenEntity, { id }, { revokedAt: at });
  }

  /** Tells every replica's token cache that this token changed; delivered at commit, and only if the transaction commits. */
  async notifyChanged(em: EntityManager, id: string): Promise<void> {
    await em.query('SELECT pg_notify($1, $2)', [API_TOKEN_CHANGES_CHANNEL, id]);
  }
}
