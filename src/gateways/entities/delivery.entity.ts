import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
/** The states a delivery ends in: the rows deliveries_settled_idx and deliveries_gateway_settled_idx hold. */
export const SETTLED: readonly DeliveryStatus[] = ['delivered', 'failed'];
/** Where a delivery goes: a registered gateway, or (later) the notification webhook. */
export const DELIVERY_TARGETS = ['gateway', 'notification'] as const;
export type DeliveryTarget = (typeof DELIVERY_TARGETS)[number];

/**
 * One event to one target, tracked until acknowledged or finally failed. A
 * target receives the events of one credential in `eventSeq` order: a
 * delivery is only attempted once no earlier delivery of the same credential
 * to the same target is pending (its target's drain reads chain heads only).
 * Its event and gateway are not foreign keys (checked per row, they cost a
 * bulk revocation a third of its delivery insert): neither table's rows are
 * ever deleted, which their triggers enforce
 * (migrations/1796570231230-DeliveriesWithoutForeignKeys.ts).
 */
@Entity('deliveries')
@Check('deliveries_status_check', `status IN ('pending', 'delivered', 'failed')`)
@Check('deliveries_target_check', `target IN ('gateway', 'notification') AND (target = 'gateway') = (gateway_id IS NOT NULL)`)
@Index('deliveries_event_gateway_key', ['eventId', 'gatewayId'], { unique: true })
@Index('deliveries_gateway_pending_idx', ['gatewayId', 'eventSeq'], { where: `status = 'pending' AND next_attempt_at IS NOT NULL` })
@Index('deliveries_chain_idx', ['gatewayId', 'credentialId', 'eventSeq'], { where: `status = 'pending'` })
@Index('deliveries_pending_due_idx', ['nextAttemptAt', 'id'], { where: `status = 'pending'` })
@Index('deliveries_gateway_settled_idx', ['gatewayId', 'createdAt', 'id'], { where: `status IN ('delivered', 'failed')` })
@Index('deliveries_settled_idx', ['status', 'createdAt', 'id'], { where: `status IN ('delivered', 'failed')` })
export class DeliveryEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid')
  eventId!: string;

  /** Copied from the event: the order of deliveries within a chain. */
  @Column('bigint')
  eventSeq!: string;

  @Column('text')
  eventType!: string;

  @Column('uuid', { nullable: true })
  credentialId!: string | null;

  @Column('text')
  target!: DeliveryTarget;

  @Column('uuid', { nullable: true })
  gatewayId!: string | null;

  @Column('text')
  status!: DeliveryStatus;

  /** Every attempt, across manual retries. */
  @Column('int')
  attempts!: number;

  /** Failed attempts in the current round (a manual retry starts a new round); indexes the retry schedule. */
  @Column('int')
  retryStep!: number;

  @Column('timestamptz')
  nextAttemptAt!: Date;

  @Column('timestamptz', { nullable: true })
  lastAttemptAt!: Date | null;

  @Column('int', { nullable: true })
  lastStatusCode!: number | null;

  @Column('text', { nullable: true })
  lastError!: string | null;

  @Column('timestamptz', { nullable: true })
  deliveredAt!: Date | null;

  @Column('timestamptz', { nullable: true })
  failedAt!: Date | null;

  @Column('timestamptz')
  createdAt!: Date;

  @Column('timestamptz')
  updatedAt!: Date;
}
