import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { preparedQuery, PreparedStatement } from '../common/db/prepared-query';
import { ConsoleSessionEntity } from './entities/console-session.entity';

/** A live session by the hex SHA-256 of its id: every console request's lookup. */
export const SESSION_BY_SHA256: PreparedStatement = {
  name: 'console_session_by_sha256',
  text: `SELECT id, token_id, token_sha256, token_name, role, owner_id, expires_at
           FROM console_sessions WHERE session_sha256 = $1 AND revoked_at IS NULL AND expires_at > $2`,
};

export interface LiveSession {
  id: string;
  tokenId: string;
  tokenSha256: string;
  tokenName: string;
  expiresAt: Date;
}

/** The console_sessions table, one method per purpose. */
@Injectable()
export class ConsoleSessionsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(em: EntityManager, session: ConsoleSessionEntity): Promise<void> {
    await em.insert(ConsoleSessionEntity, session);
  }

  async liveBySha256(sessionSha256: string, now: Date): Promise<LiveSession | null> {
    const rows = await preparedQuery<{ id: string; token_id: string; token_sha256: string; token_name: string; expires_at: Date }>(
      this.dataSource,
      SESSION_BY_SHA256,
      [sessionSha256, now],
    );
    if (!rows.length) return null;
    const row = rows[0];
    return { id: row.id, tokenId: row.token_id, tokenSha256: row.token_sha256, tokenName: row.token_name, expiresAt: row.expires_at };
  }

  /** Marks a live session revoked; false when it already was (or never existed). */
  async markRevoked(em: EntityManager, id: string, at: Date): Promise<boolean> {
    const result = await em
      .createQueryBuilder()
      .update(ConsoleSessionEntity)
      .set({ revokedAt: at })
      .where('id = :id AND revoked_at IS NULL', { id })
      .execute();
    return (result.affected ?? 0) > 0;
  }
}
