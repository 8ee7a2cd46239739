import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

import { References } from '../../common/db/references';
import type { SecretStoreName } from '../../config/app-config';
import { AgentEntity } from './agent.entity';
import { OwnerEntity } from './owner.entity';

export const CREDENTIAL_TYPES = ['api_key', 'oauth_client'] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];
export const ENVIRONMENTS = ['sandbox', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];
export const CREDENTIAL_STATUSES = ['pending_approval', 'active', 'rejected', 'revoked'] as const;
export type CredentialStatus = (typeof CREDENTIAL_STATUSES)[number];

/**
 * The public keys an `oauth_client` registered for `private_key_jwt` client
 * authentication (RFC 7523), as checked by jwks-policy.ts: public members only.
 */
export interface PublicJwkSet {
  keys: Array<Record<string, unknown>>;
}

/** A change that adds a delete/admin scope: it waits for approval while the old values stay in force. */
export interface PendingCredentialChange {
  scopes?: string[];
  rateLimit?: { requests: number; perSeconds: number };
  ipAllowlist?: string[];
  rotationIntervalDays?: number;
  gracePeriodHours?: number;
  requestedBy: string;
  requestedAt: string;
}

/**
 * An agent's credential. The secret itself is never here: only where it lives
 * (`secretRef`), which version is current, and its SHA-256.
 */
@Entity('credentials')
@Check('credentials_type_check', `type IN ('api_key', 'oauth_client')`)
@Check('credentials_environment_check', `environment IN ('sandbox', 'production')`)
@Check('credentials_status_check', `status IN ('pending_approval', 'active', 'rejected', 'revoked')`)
@Check('credentials_secret_store_check', `secret_store IN ('local', 'vault', 'aws')`)
@Check('credentials_rate_limit_check', `rate_limit_requests BETWEEN 1 AND 100000 AND rate_limit_per_seconds BETWEEN 1 AND 86400`)
@Check('credentials_rotation_interval_check', `rotation_interval_days BETWEEN 1 AND 90`)
@Check('credentials_grace_period_check', `grace_period_hours BETWEEN 0 AND 168`)
@Check('credentials_scopes_check', `cardinality(scopes) > 0`)
@Check(
  'credentials_active_has_secret_check',
  `status <> 'active' OR (secret_ref IS NOT NULL AND secret_version IS NOT NULL AND secret_sha256 IS NOT NULL)`,
)
@Check('credentials_jwks_check', `jwks IS NULL OR type = 'oauth_client'`)
@Index('credentials_due_idx', ['nextRotationAt'], { where: `status = 'active'` })
@Index('credentials_owner_created_idx', ['ownerId', 'createdAt', 'id'])
@Index('credentials_agent_created_idx', ['agentId', 'createdAt', 'id'])
@Index('credentials_created_idx', ['createdAt', 'id'])
@Index('credentials_secret_sha256_idx', ['secretSha256'])
export class CredentialEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Index('credentials_client_id_key', { unique: true })
  @Column('text')
  clientId!: string;

  @Column('uuid')
  agentId!: string;

  @References(() => AgentEntity, 'agent_id', 'credentials_agent_id_fkey')
  agent?: AgentEntity;

  @Column('uuid')
  ownerId!: string;

  @References(() => OwnerEntity, 'owner_id', 'credentials_owner_id_fkey')
  owner?: OwnerEntity;

  @Column('text')
  type!: CredentialType;

  @Column('text')
  environment!: Environment;

  @Column('text', { array: true })
  scopes!: string[];

  @Column('int')
  rateLimitRequests!: number;

  @Column('int')
  rateLimitPerSeconds!: number;

  @Column('text', { array: true })
  ipAllowlist!: string[];

  @Column('text')
  secretStore!: SecretStoreName;

  @Column('text', { nullable: true })
  secretRef!: string | null;

  @Column('int', { nullable: true })
  secretVersion!: number | null;

  /** The store's own id of the current version (a number for Vault and local, a VersionId for AWS). */
  @Column('text', { nullable: true })
  secretVersionId!: string | null;

  @Column('text', { nullable: true })
  secretSha256!: string | null;

  /** The highest version whose secret this API has handed out (in the 201 or by one claim). */
  @Column('int', { nullable: true })
  secretDeliveredVersion!: number | null;

  @Column('text')
  status!: CredentialStatus;

  @Column('int')
  rotationIntervalDays!: number;

  @Column('int')
  gracePeriodHours!: number;

  @Column('timestamptz', { nullable: true })
  lastRotatedAt!: Date | null;

  @Column('timestamptz', { nullable: true })
  nextRotationAt!: Date | null;

  @Column('timestamptz', { nullable: true })
  lastUsedAt!: Date | null;

  @Column('text')
  requestedBy!: string;

  @Column('text', { nullable: true })
  approvedBy!: string | null;

  @Column('timestamptz', { nullable: true })
  approvedAt!: Date | null;

  @Column('jsonb', { nullable: true })
  pendingChange!: PendingCredentialChange | null;

  /** `oauth_client` only: the public JWK set for `private_key_jwt`; null when none is registered. */
  @Column('jsonb', { nullable: true })
  jwks!: PublicJwkSet | null;

  @Column('timestamptz')
  createdAt!: Date;

  @Column('timestamptz')
  updatedAt!: Date;

  @Column('timestamptz', { nullable: true })
  revokedAt!: Date | null;

  @Column('text', { nullable: true })
  revokedReason!: string | null;
}
