import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

import type { ExpiryAction } from './campaign.entity';

/**
 * Opens a campaign every `everyDays`, counted from `startsAt`: period k runs
 * from startsAt + k·everyDays, and the sweep opens its campaign once.
 */
@Entity('campaign_schedules')
@Check('campaign_schedules_on_expiry_check', `on_expiry IN ('revoke', 'keep')`)
@Check('campaign_schedules_environment_check', `environment IS NULL OR environment IN ('sandbox', 'production')`)
@Check('campaign_schedules_every_days_check', `every_days BETWEEN 1 AND 3650`)
@Check('campaign_schedules_due_in_days_check', `due_in_days BETWEEN 1 AND 90`)
@Index('campaign_schedules_created_idx', ['createdAt', 'id'])
export class CampaignScheduleEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('text')
  name!: string;

  @Column('int')
  everyDays!: number;

  @Column('text', { nullable: true })
  environment!: string | null;

  @Column('uuid', { array: true, nullable: true })
  ownerIds!: string[] | null;

  @Column('int')
  dueInDays!: number;

  @Column('text')
  onExpiry!: ExpiryAction;

  @Column('timestamptz')
  startsAt!: Date;

  @Column('text')
  createdBy!: string;

  @Column('timestamptz')
  createdAt!: Date;

  @Column('timestamptz')
  updatedAt!: Date;
}
