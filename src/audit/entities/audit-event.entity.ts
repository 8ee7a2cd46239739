import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { Actor } from '../../auth/actor';

/**
 * One link of the append-only, hash-chained audit log. A trigger refuses
 * UPDATE, DELETE and TRUNCATE; `hash = sha256(prevHash + canonical(event))`.
 */
@Entity('audit_events')
@Index('audit_events_at_idx', ['at'])
// Lookups by actor token id use an expression index the migration creates by hand.
@Index('audit_events_actor_token_idx', { synchronize: false })
export class AuditEventEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Index('audit_events_seq_key', { unique: true })
  @Column('bigint')
  seq!: string;

  @Column('timestamptz')
  at!: Date;

  @Column('jsonb')
  actor!: Actor;

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

  @Column('text')
  prevHash!: string;

  @Column('text')
  hash!: string;
}
