import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

import type { Role } from '../../auth/actor';

/**
 * A console sign-in. Only the SHA-256 of the session id (the cookie's value) is
 * kept, and the SHA-256 of the API token it was opened with, so a request is
 * refused as soon as that token is revoked.
 */
@Entity('console_sessions')
@Check('console_sessions_role_check', `role IN ('admin', 'owner', 'responder', 'auditor')`)
@Index('console_sessions_expires_idx', ['expiresAt'])
export class ConsoleSessionEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Index('console_sessions_session_sha256_key', { unique: true })
  @Column('text')
  sessionSha256!: string;

  @Column('text')
  tokenId!: string;

  @Column('text')
  tokenSha256!: string;

  @Column('text')
  tokenName!: string;

  @Column('text')
  role!: Role;

  @Column('uuid', { nullable: true })
  ownerId!: string | null;

  @Column('timestamptz')
  createdAt!: Date;

  @Column('timestamptz')
  expiresAt!: Date;

  @Column('timestamptz', { nullable: true })
  revokedAt!: Date | null;
}
