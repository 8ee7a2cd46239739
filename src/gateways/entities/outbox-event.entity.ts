import { Check, Column, Entity, Generated, Index, PrimaryColumn } from 'typeorm';

/**
 * Every event type the outbox carries. Listed in full (including those later
 * features publish) so the check constraint does not need a migration per feature
 * (the alert events came later: migrations/1796530745461-Alerts.ts widened it).
 */
export const EVENT_TYPES = [
  'credential.issued',
  'credential.updated',
  'credential.rotated',
  'credential.version_retired',
  'credential.revoked',
  'rotation.failed',
  'review.reminder',
  'alert.raised',
  'alert.acknowledged',
  'alert.resolved',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * One event, written in the transaction of the state change that caused it.
 * `payload` is the exact JSON body every target receives, so each retry sends
 * (and signs) the same bytes.
 */
@Entity('outbox_events')
@Check('outbox_events_type_check', `type IN (${EVENT_TYPES.map((t) => `'${t}'`).join(', ')})`)
@Index('outbox_events_seq_key', ['seq'], { unique: true })
@Index('outbox_events_credential_idx', ['credentialId', 'seq'])
@Index('outbox_events_log_position_key', ['logPosition'], { unique: true })
@Index('outbox_events_unsequenced_idx', ['seq'], { where: `log_position IS NULL` })
export class OutboxEventEntity {
  @PrimaryColumn('uuid')
  id!: string;

  /** Commit order per credential (publishers hold the credential's row lock), used to keep deliveries in order. */
  @Generated('increment')
  @Column({ type: 'bigint', generatedIdentity: 'ALWAYS' })
  seq!: string;

  @Column('text')
  type!: EventType;

  @Column('uuid', { nullable: true })
  credentialId!: string | null;

  @Column('text', { nullable: true })
  environment!: string | null;

  @Column('text')
  payload!: string;

  @Column('timestamptz')
  createdAt!: Date;

  /**
   * Gap-free position in commit order, given once the event is committed
   * (src/gateways/gateway-sync.repository.ts); the sync routes' event cursor. Null until then.
   */
  @Column('bigint', { nullable: true })
  logPosition!: string | null;
}
