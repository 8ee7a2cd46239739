import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

import { References } from '../../common/db/references';
import { CampaignEntity } from './campaign.entity';

/**
 * An owner's attestation over its decisions in a campaign: the SHA-256 of the
 * canonical JSON of those decisions, so the evidence cannot be edited unseen.
 */
@Entity('campaign_signoffs')
@Index('campaign_signoffs_campaign_owner_key', ['campaignId', 'ownerId'], { unique: true })
export class CampaignSignoffEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid')
  campaignId!: string;

  @References(() => CampaignEntity, 'campaign_id', 'campaign_signoffs_campaign_id_fkey')
  campaign?: CampaignEntity;

  @Column('uuid')
  ownerId!: string;

  /** Token id of the owner token that signed. */
  @Column('text')
  signedBy!: string;

  @Column('timestamptz')
  signedAt!: Date;

  @Column('text')
  statement!: string;

  @Column('int')
  itemCount!: number;

  @Column('text')
  decisionsSha256!: string;
}
