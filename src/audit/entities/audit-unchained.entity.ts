import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * The chainer's queue: events committed but not linked yet. Writers add to it
 * in the statement that inserts their events; the chainer removes what it links.
 */
@Entity('audit_unchained')
@Index('audit_unchained_created_seq_idx', ['createdSeq'])
export class AuditUnchainedEntity {
  @PrimaryColumn('uuid')
  eventId!: string;

  @Column('bigint')
  createdSeq!: string;
}
