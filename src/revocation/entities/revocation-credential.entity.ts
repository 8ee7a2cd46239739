import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

import { References } from '../../common/db/references';
import type { SecretStoreName } from '../../config/app-config';
import type { SecretTarget } from '../../secret-stores/secret-store';
import { RevocationEntity } from './revocation.entity';

export const SECRET_DESTRUCTION_STATUSES = ['pending', 'destroyed'] as const;
export type SecretDestructionStatus = (typeof SECRET_DESTRUCTION_STATUSES)[number];

/**
 * A credential revoked by a revocation (each credential is revoked once: the
 * primary key), its `credential.revoked` event, and the durable record of
 * destroying its secret, retried until the store confirms.
 */
@Entity('revocation_credentials')
@Check('revocation_credentials_secret_status_check', `secret_status IN ('pending', 'destroyed')`)
@Check('revocation_credentials_secret_store_check', `secret_store IN ('local', 'vault', 'aws')`)
@Index('revocation_credentials_revocation_idx', ['revocationId'])
@Index('revocation_credentials_secret_pending_idx', ['secretNextAttemptAt', 'credentialId'], { where: `secret_status = 'pending'` })
export class RevocationCredentialEntity {
  @PrimaryColumn('uuid')
  credentialId!: string;

  @Column('uuid')
  revocationId!: string;

  @References(() => RevocationEntity, 'revocation_id', 'revocation_credentials_revocation_id_fkey')
  revocation?: RevocationEntity;

  @Column('uuid')
  eventId!: string;

  @Column('text')
  secretStore!: SecretStoreName;

  @Column('jsonb')
  secretTarget!: SecretTarget;

  @Column('text')
  secretStatus!: SecretDestructionStatus;

  @Column('int')
  secretAttempts!: number;

  @Column('timestamptz')
  secretNextAttemptAt!: Date;

  @Column('text', { nullable: true })
  secretLastError!: string | null;

  @Column('timestamptz', { nullable: true })
  secretDestroyedAt!: Date | null;
}
