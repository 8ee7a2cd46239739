import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

import { AuditEventEntity } from './audit-event.entity';

/**
 * One link of the hash chain: `hash = sha256(prevHash + canonical(event))`.
 * Append-only like the events (trigger). Written only by the chainer, which
 * links committed events one batch at a time under an advisory lock.
 */
@Entity('audit_chain')
export class AuditChainLinkEntity {
  @PrimaryColumn('bigint')
  seq!: string;

  @Index('audit_chain_event_id_key', { unique: true })
  @Column('uuid')
  eventId!: string;

  @ManyToOne(() => AuditEventEntity, { onDelete: 'RESTRICT', nullable: false })
  @JoinColumn({ name: 'event_id', foreignKeyConstraintName: 'audit_chain_event_id_fkey' })
  event?: AuditEventEntity;

  @Column('text')
  prevHash!: string;

  @Column('text')
  hash!: string;

  @Column('timestamptz')
  chainedAt!: Date;
}
