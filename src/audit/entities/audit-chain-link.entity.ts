import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

import { References } from '../../common/db/references';
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

  @References(() => AuditEventEntity, 'event_id', 'audit_chain_event_id_fkey')
  event?: AuditEventEntity;

  @Column('text')
  prevHash!: string;

  @Column('text')
  hash!: string;

  @Column('timestamptz')
  chainedAt!: Date;
}
