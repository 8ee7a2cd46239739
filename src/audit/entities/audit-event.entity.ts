import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

import type { RecordedActor } from '../../auth/actor';

/**
 * An audit event, written in the same transaction as the change it records.
 * Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE. Its place in the
 * hash chain (seq, prevHash, hash) is in `audit_chain`, added by the chainer
 * moments after the transaction commits.
 */
@Entity('audit_events')
@Index('audit_events_at_idx', ['at'])
// Lookups by actor token id use an expression index the migration creates by hand.
@Index('audit_events_actor_token_idx', { synchronize: false })
export class AuditEventEntity {
  @PrimaryColumn('uuid')
  id!: string;

  /** Insertion order, for the chainer's queue; the chain's own order is `audit_chain.seq`. */
  @Index('audit_events_created_seq_key', { unique: true })
  @Column({ type: 'bigint', generated: 'identity', generatedIdentity: 'ALWAYS' })
  createdSeq!: string;

  @Column('timestamptz')
  at!: Date;

  @Column('jsonb')
  actor!: RecordedActor;

  @Index('audit_events_action_idx')
  @Column('text')
  action!: string;

  @Column('text')
  targetType!: string;

  @Index('audit_events_target_id_idx')
  @Column('text')
  targetId!: string;

  @Column('text')
  requestId!: string;

  @Column('jsonb')
  data!: Record<string, unknown>;
}
