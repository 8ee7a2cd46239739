import { Column, Entity, PrimaryColumn } from 'typeorm';

import { References } from '../../common/db/references';
import { CampaignEntity } from './campaign.entity';

/**
 * A reminder sent to one owner at one stage of a campaign (`due_in_7d`,
 * `due_in_3d`, `due_in_1d`, `overdue_1`, `overdue_2`, ...). The primary key
 * makes each stage go out once, however often or wherever the sweep runs.
 */
@Entity('review_reminders')
export class ReviewReminderEntity {
  @PrimaryColumn('uuid')
  campaignId!: string;

  @References(() => CampaignEntity, 'campaign_id', 'review_reminders_campaign_id_fkey')
  campaign?: CampaignEntity;

  @PrimaryColumn('uuid')
  ownerId!: string;

  @PrimaryColumn('text')
  stage!: string;

  /** The outbox event that carries it. */
  @Column('uuid', { nullable: true })
  eventId!: string | null;

  @Column('timestamptz')
  sentAt!: Date;
}
