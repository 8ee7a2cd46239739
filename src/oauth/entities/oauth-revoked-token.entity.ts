import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** An access token its client revoked (RFC 7009), by `jti`; kept until the token would have expired anyway. */
@Entity('oauth_revoked_tokens')
@Index('oauth_revoked_tokens_expires_idx', ['expiresAt'])
export class OAuthRevokedTokenEntity {
  @PrimaryColumn('text')
  jti!: string;

  @Column('uuid')
  credentialId!: string;

  @Column('timestamptz')
  revokedAt!: Date;

  @Column('timestamptz')
  expiresAt!: Date;
}
