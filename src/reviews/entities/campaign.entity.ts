import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

export const CAMPAIGN_STATUSES = ['open', 'closed'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];
export const EXPIRY_ACTIONS = ['revoke', 'keep'] as const;
export type ExpiryAction = (typeof EXPIRY_ACTIONS)[number];
/** Why a campaign closed: its deadline passed (the sweep) or an admin closed it. */
export const CLOSE_REASONS = ['deadline', 'manual'] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/**
 * An access review: the credentials in scope when it opened, one review item
 * each. A campaign opened by a schedule carries (scheduleId, schedulePeriod),
 * unique, so each period opens exactly one campaign whatever the replicas do.
 */
@Entity('campaigns')
@Check('campaigns_status_check', `status IN ('open', 'closed')`)
@Check('campaigns_on_expiry_check', `on_expiry IN ('revoke', 'keep')`)
@Check('campaigns_environment_check', `environment IS NULL OR environment IN ('sandbox', 'production')`)
@Check('campaigns_close_reason_check', `close_reason IS NULL OR close_reason IN ('deadline', 'manual')`)
@Check('campaigns_closed_check', `(status = 'closed') = (closed_at IS NOT NULL)`)
@Check('campaigns_schedule_check', `(schedule_id IS NULL) = (schedule_period IS NULL)`)
@Index('campaigns_created_idx', ['createdAt', 'id'])
@Index('campaigns_open_due_idx', ['dueAt'], { where: `status = 'open'` })
@Index('campaigns_due_idx', ['dueAt'])
@Index('campaigns_schedule_period_key', ['scheduleId', 'schedulePeriod'], { unique: true, where: 'schedule_id IS NOT NULL' })
export class CampaignEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('text')
  name!: string;

  @Column('text')
  status!: CampaignStatus;

  /** Scope: one environment, or both when null. */
  @Column('text', { nullable: true })
  environment!: string | null;

  /** Scope: these owners only, or every owner when null. */
  @Column('uuid', { array: true, nullable: true })
  ownerIds!: string[] | null;

  @Column('text')
  onExpiry!: ExpiryAction;

  @Column('timestamptz')
  dueAt!: Date;

  @Column('int')
  itemCount!: number;

  @Column('uuid', { nullable: true })
  scheduleId!: string | null;

  @Column('int', { nullable: true })
  schedulePeriod!: number | null;

  /** Token id of the admin who opened it, or `system:reviews` for a schedule. */
  @Column('text')
  openedBy!: string;

  @Column('timestamptz', { nullable: true })
  closedAt!: Date | null;

  @Column('text', { nullable: true })
  closedBy!: string | null;

  @Column('text', { nullable: true })
  closeReason!: CloseReason | null;

  @Column('timestamptz')
  createdAt!: Date;

  @Column('timestamptz')
  updatedAt!: Date;
}
