import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A private JWK sealed with SecretBox (AES-256-GCM under LOCAL_STORE_KEY), base64 fields; the key id is
 * the additional authenticated data, so a sealed key copied onto another row fails to open.
 */
export interface SealedPrivateJwk {
  nonce: string;
  ciphertext: string;
  authTag: string;
  keyFingerprint: string;
}

/**
 * One of the service's access-token signing keys (ES256). It is in the JWKS from `createdAt` to `expiresAt`
 * and signs from `activatesAt` to `retiresAt`: a key is published before it signs (pre-publication), and
 * stays published until every token it signed has expired. Signing windows follow one another without a gap.
 */
@Entity('oauth_signing_keys')
@Check('oauth_signing_keys_algorithm_check', `algorithm IN ('ES256')`)
@Check('oauth_signing_keys_window_check', `created_at <= activates_at AND activates_at < retires_at AND retires_at <= expires_at`)
@Index('oauth_signing_keys_activates_key', ['activatesAt'], { unique: true })
@Index('oauth_signing_keys_expires_idx', ['expiresAt'])
export class OAuthSigningKeyEntity {
  /** The RFC 7638 thumbprint of the public key. */
  @PrimaryColumn('text')
  kid!: string;

  @Column('text')
  algorithm!: 'ES256';

  @Column('jsonb')
  publicJwk!: Record<string, unknown>;

  @Column('jsonb')
  privateJwkSealed!: SealedPrivateJwk;

  @Column('timestamptz')
  createdAt!: Date;

  @Column('timestamptz')
  activatesAt!: Date;

  @Column('timestamptz')
  retiresAt!: Date;

  @Column('timestamptz')
  expiresAt!: Date;
}
