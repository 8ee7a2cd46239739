import { Check, Column, Entity, PrimaryColumn } from 'typeorm';

/** One version of a secret in the embedded store: AES-256-GCM ciphertext only. */
@Entity('local_secret_versions')
@Check('local_secret_versions_state_check', `state IN ('current', 'pending', 'previous')`)
@Check(
  'local_secret_versions_sealed_check',
  `(destroyed_at IS NULL) = (ciphertext IS NOT NULL AND nonce IS NOT NULL AND auth_tag IS NOT NULL)`,
)
export class LocalSecretVersionEntity {
  @PrimaryColumn('uuid')
  credentialId!: string;

  @PrimaryColumn('int')
  version!: number;

  @Column('uuid')
  requestToken!: string;

  /** First 16 hex chars of SHA-256 of the key that sealed it, so a wrong key fails loudly. */
  @Column('text')
  keyFingerprint!: string;

  @Column('bytea', { nullable: true })
  nonce!: Buffer | null;

  @Column('bytea', { nullable: true })
  ciphertext!: Buffer | null;

  @Column('bytea', { nullable: true })
  authTag!: Buffer | null;

  @Column('text')
  state!: 'current' | 'pending' | 'previous';

  @Column('timestamptz')
  createdAt!: Date;

  @Column('timestamptz', { nullable: true })
  destroyedAt!: Date | null;
}
