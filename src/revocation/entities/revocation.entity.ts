import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

import type { RecordedActor } from '../../auth/actor';

/**
 * One revoke call: a credential, or every credential an agent had. The
 * credentials it covers are its RevocationCredential rows.
 */
@Entity('revocations')
@Index('revocations_agent_idx', ['agentId', 'createdAt'])
@Index('revocations_created_idx', ['createdAt', 'id'])
export class RevocationEntity {
  @PrimaryColumn('uuid')
  id!: string;

  /** Set when the whole agent was revoked (and decommissioned). */
  @Column('uuid', { nullable: true })
  agentId!: string | null;

  /** The owner of the revoked credentials, for owner-scoped reads; null when they span owners. */
  @Column('uuid', { nullable: true })
  ownerId!: string | null;

  @Column('text')
  reason!: string;

  @Column('jsonb')
  actor!: RecordedActor;

  @Column('text')
  requestId!: string;

  @Column('timestamptz')
  revokedAt!: Date;

  @Column('timestamptz')
  createdAt!: Date;
}
