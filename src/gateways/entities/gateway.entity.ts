import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

export const GATEWAY_ENVIRONMENTS = ['sandbox', 'production'] as const;
export type GatewayEnvironment = (typeof GATEWAY_ENVIRONMENTS)[number];
export const GATEWAY_STATUSES = ['active', 'disabled'] as const;
export type GatewayStatus = (typeof GATEWAY_STATUSES)[number];

/**
 * A signing secret sealed with SecretBox (AES-256-GCM under LOCAL_STORE_KEY),
 * base64 fields. `version` is part of the additional authenticated data, so a
 * sealed secret copied onto another gateway or generation fails to open.
 */
export interface SealedSigningSecret {
  version: number;
  nonce: string;
  ciphertext: string;
  authTag: string;
  keyFingerprint: string;
}

/** An API gateway that receives signed credential events for the environments it serves. */
@Entity('gateways')
@Check('gateways_status_check', `status IN ('active', 'disabled')`)
@Check('gateways_environments_check', `environments <@ ARRAY['sandbox', 'production']::text[] AND cardinality(environments) > 0`)
@Check('gateways_previous_secret_check', `(previous_signing_secret IS NULL) = (previous_signing_secret_expires_at IS NULL)`)
@Index('gateways_name_key', ['name'], { unique: true })
@Index('gateways_created_idx', ['createdAt', 'id'])
export class GatewayEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('text')
  name!: string;

  @Column('text')
  url!: string;

  @Column('text', { array: true })
  environments!: GatewayEnvironment[];

  @Column('text')
  status!: GatewayStatus;

  /** Receives up to 500 events per signed request as `{ type: 'batch', events }` (docs/delivery.md); else one event per request. */
  @Column('boolean', { default: false })
  batchEvents!: boolean;

  @Column('jsonb')
  signingSecret!: SealedSigningSecret;

  /** The key replaced by the last rotation; it keeps signing until `previousSigningSecretExpiresAt`. */
  @Column('jsonb', { nullable: true })
  previousSigningSecret!: SealedSigningSecret | null;

  @Column('timestamptz', { nullable: true })
  previousSigningSecretExpiresAt!: Date | null;

  @Column('timestamptz', { nullable: true })
  signingSecretRotatedAt!: Date | null;

  @Column('timestamptz', { nullable: true })
  disabledAt!: Date | null;

  @Column('text', { nullable: true })
  disabledReason!: string | null;

  @Column('timestamptz')
  createdAt!: Date;

  @Column('timestamptz')
  updatedAt!: Date;
}
