import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

import type { SecretStoreName } from '../../config/app-config';
import type { SecretTarget } from '../../secret-stores/secret-store';

/**
 * The step a rotation has reached (docs/architecture.md "The life of a rotation"):
 * `pending` while its new version is being written to the store; `published`
 * once that version is stored and `credential.rotated` is in the outbox (both
 * versions valid); `verified` once read back with the right hash; `promoted`
 * once current (the rotation is then `completed`); `retired` once the
 * previous version is destroyed after the grace period.
 */
export const ROTATION_STEPS = ['pending', 'published', 'verified', 'promoted', 'retired'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

export const ROTATION_STATUSES = ['running', 'completed', 'failed'] as const;
export type RotationStatus = (typeof ROTATION_STATUSES)[number];

/** What started it: the scheduler (the credential was due) or a person (POST /v1/credentials/:id/rotate). */
export const ROTATION_TRIGGERS = ['scheduled', 'manual'] as const;
export type RotationTrigger = (typeof ROTATION_TRIGGERS)[number];

/**
 * One rotation of one credential from `fromVersion` to `fromVersion + 1`. The
 * row is the step machine's durable state: each step's outcome is written in
 * the transaction that moves `step`, so a crashed job resumes at the recorded
 * step. The secret itself is never here, only its SHA-256.
 *
 * `(credential_id, to_version)` is unique: a version is rotated to once, which
 * is what makes the job id `rotate:<credentialId>:<toVersion>` deterministic
 * and several scheduler replicas harmless; at most one rotation of a
 * credential is `running`, guaranteed by a partial unique index.
 */
@Entity('rotations')
@Check('rotations_step_check', `step IN ('pending', 'published', 'verified', 'promoted', 'retired')`)
@Check('rotations_status_check', `status IN ('running', 'completed', 'failed')`)
@Check('rotations_trigger_check', `trigger IN ('scheduled', 'manual')`)
@Check('rotations_secret_store_check', `secret_store IN ('local', 'vault', 'aws')`)
@Check('rotations_versions_check', `to_version = from_version + 1`)
@Check(
  'rotations_completed_check',
  `(status = 'completed') = (step IN ('promoted', 'retired')) AND (status <> 'completed' OR completed_at IS NOT NULL)`,
)
@Check(
  'rotations_published_check',
  `step = 'pending' OR (new_version_id IS NOT NULL AND new_secret_sha256 IS NOT NULL AND grace_ends_at IS NOT NULL)`,
)
@Index('rotations_credential_version_key', ['credentialId', 'toVersion'], { unique: true })
@Index('rotations_one_running_key', ['credentialId'], { unique: true, where: `status = 'running'` })
@Index('rotations_credential_created_idx', ['credentialId', 'createdAt', 'id'])
@Index('rotations_status_created_idx', ['status', 'createdAt', 'id'])
@Index('rotations_created_idx', ['createdAt', 'id'])
@Index('rotations_new_secret_sha256_idx', ['newSecretSha256'])
@Index('rotations_from_secret_sha256_idx', ['fromSecretSha256'])
@Index('rotations_running_idx', ['updatedAt', 'id'], { where: `status = 'running'` })
@Index('rotations_retire_due_idx', ['graceEndsAt', 'id'], { where: `status = 'completed' AND retired_at IS NULL` })
export class RotationEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid')
  credentialId!: string;

  @Column('uuid')
  ownerId!: string;

  @Column('text')
  secretStore!: SecretStoreName;

  /** Where the credential's secret lives in its store (credential, agent, owner, environment). */
  @Column('jsonb')
  secretTarget!: SecretTarget;

  @Column('text')
  trigger!: RotationTrigger;

  /** Leak response: grace period zero, every non-current version retired once the new one is promoted. */
  @Column('boolean')
  immediate!: boolean;

  @Column('text', { nullable: true })
  reason!: string | null;

  /** The token that asked for it, or `system:rotation-scheduler`. */
  @Column('text')
  requestedBy!: string;

  @Column('text')
  step!: RotationStep;

  @Column('text')
  status!: RotationStatus;

  @Column('int')
  fromVersion!: number;

  /** The store's id of the version being replaced (retired at the end of the grace period). */
  @Column('text')
  fromVersionId!: string;

  /**
   * SHA-256 (hex) of the version being replaced: it stays valid until
   * `graceEndsAt`. Null only for rotations older than the column whose hash was lost.
   */
  @Column('text', { nullable: true })
  fromSecretSha256!: string | null;

  @Column('int')
  toVersion!: number;

  /** The store's id of the new version, once written. */
  @Column('text', { nullable: true })
  newVersionId!: string | null;

  @Column('text', { nullable: true })
  newSecretSha256!: string | null;

  @Column('text', { nullable: true })
  newSecretRef!: string | null;

  /** Failed tries since it was (re)started. */
  @Column('int')
  attempts!: number;

  /** The last failure, in words: never a secret. */
  @Column('text', { nullable: true })
  error!: string | null;

  /** When its job should run next (now, or after a backoff). */
  @Column('timestamptz')
  nextAttemptAt!: Date;

  @Column('timestamptz')
  startedAt!: Date;

  @Column('timestamptz', { nullable: true })
  publishedAt!: Date | null;

  /** When the new version was promoted. */
  @Column('timestamptz', { nullable: true })
  completedAt!: Date | null;

  @Column('timestamptz', { nullable: true })
  failedAt!: Date | null;

  /** Until when the previous version stays valid; it is retired at this time (never before the promotion). */
  @Column('timestamptz', { nullable: true })
  graceEndsAt!: Date | null;

  @Column('timestamptz', { nullable: true })
  retiredAt!: Date | null;

  @Column('timestamptz')
  createdAt!: Date;

  @Column('timestamptz')
  updatedAt!: Date;
}
