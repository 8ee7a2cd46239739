import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { preparedQuery, PreparedStatement } from '../common/db/prepared-query';
import { fetchTimePage, Page } from '../common/pagination/pagination';
import type { Actor, Role } from './actor';
import { ApiTokenEntity } from './entities/api-token.entity';

/** A live (not revoked) API token by the hex SHA-256 of the presented secret: every request's lookup. */
export const TOKEN_BY_SHA256: PreparedStatement = {
  name: 'auth_token_by_sha256',
  text: 'SELECT id, role, owner_id FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL',
};

/** The api_tokens table, one method per purpose. */
@Injectable()
export class TokensRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The actor of a live token, by its digest. This runs on every request: a prepared statement, not the query builder. */
  async actorBySha256(sha256Hex: string): Promise<Actor | null> {
    const rows = await preparedQuery<{ id: string; role: Role; owner_id: string | null }>(this.dataSource, TOKEN_BY_SHA256, [sha256Hex]);
    return rows.length ? { tokenId: rows[0].id, role: rows[0].role, ownerId: rows[0].owner_id } : null;
  }

  async insert(em: EntityManager, token: ApiTokenEntity): Promise<void> {
    await em.insert(ApiTokenEntity, token);
  }

  list(query: { limit?: number; cursor?: string }): Promise<Page<ApiTokenEntity>> {
    return fetchTimePage(this.dataSource.getRepository(ApiTokenEntity).createQueryBuilder('t'), 't', query, (row) => row);
  }

  lockForChange(em: EntityManager, id: string): Promise<ApiTokenEntity | null> {
    return em.findOne(ApiTokenEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  async markRevoked(em: EntityManager, id: string, at: Date): Promise<void> {
    await em.update(ApiTokenEntity, { id }, { revokedAt: at });
  }
}
