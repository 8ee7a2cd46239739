import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

import type { Recommendation } from '../usage-recommendation';
import { CampaignEntity } from './campaign.entity';

/** A bigint count read back as a number (counts of calls stay far below 2^53). */
const countColumn = { to: (v: number | null) => v, from: (v: string | null) => (v === null ? null : Number(v)) };

export const REVIEW_ITEM_STATUSES = ['pending', 'decided', 'expired'] as const;
export type ReviewItemStatus = (typeof REVIEW_ITEM_STATUSES)[number];
export const REVIEW_DECISIONS = ['keep', 'reduce', 'revoke'] as const;
export type ReviewDecision = (typeof REVIEW_DECISIONS)[number];
/**
 * What was carried out on the credential: the owner's decision, the
 * campaign's expiry action, or nothing because it had been revoked elsewhere.
 */
export const REVIEW_OUTCOMES = ['kept', 'reduced', 'revoked', 'revoked_elsewhere', 'kept_on_expiry', 'revoked_on_expiry'] as const;
export type ReviewOutcome = (typeof REVIEW_OUTCOMES)[number];

/**
 * One credential of a campaign, snapshotted when the campaign opened and
 * assigned to the agent's owner. Once out of `pending` an item never changes.
 *
 * Opening writes 100,000 of these in one statement, so the table carries only
 * the indexes its reads need, and no foreign keys: not to the inventory
 * (reviews know credentials only through its services, and credentials are
 * never deleted), and not to `campaigns` either (a per-row trigger check costs
 * a sizeable part of the open; items are written only by the statement that
 * opens their campaign, in its transaction, and campaigns are never deleted).
 * One item per credential per campaign holds by construction (the snapshot
 * selects each credential once). Item ids are sequential within a campaign
 * (see itemIdSql), so every index insert is an append.
 */
@Entity('review_items')
@Check('review_items_status_check', `status IN ('pending', 'decided', 'expired')`)
@Check('review_items_decision_check', `decision IS NULL OR decision IN ('keep', 'reduce', 'revoke')`)
@Check(
  'review_items_outcome_check',
  `outcome IS NULL OR outcome IN ('kept', 'reduced', 'revoked', 'revoked_elsewhere', 'kept_on_expiry', 'revoked_on_expiry')`,
)
@Check('review_items_resolved_check', `(status = 'pending') = (outcome IS NULL AND resolved_at IS NULL)`)
@Check('review_items_decided_check', `(decision IS NULL) = (decided_by IS NULL AND decided_at IS NULL)`)
@Check('review_items_environment_check', `environment IN ('sandbox', 'production')`)
@Check('review_items_recommendation_check', `recommendation IS NULL OR recommendation IN ('keep', 'reduce', 'revoke')`)
@Index('review_items_campaign_created_idx', ['campaignId', 'createdAt', 'id'])
@Index('review_items_campaign_owner_status_idx', ['campaignId', 'ownerId', 'status'])
export class ReviewItemEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid')
  campaignId!: string;

  @ManyToOne(() => CampaignEntity, { nullable: false, createForeignKeyConstraints: false })
  @JoinColumn({ name: 'campaign_id' })
  campaign?: CampaignEntity;

  @Column('uuid')
  credentialId!: string;

  @Column('text')
  clientId!: string;

  @Column('uuid')
  agentId!: string;

  @Column('text')
  agentName!: string;

  /** The agent's owner when the campaign opened: who reviews this item. */
  @Column('uuid')
  ownerId!: string;

  @Column('text')
  environment!: string;

  /** The credential's scopes when the campaign opened. */
  @Column('text', { array: true })
  scopes!: string[];

  @Column('int')
  rateLimitRequests!: number;

  @Column('int')
  rateLimitPerSeconds!: number;

  @Column('text', { array: true })
  ipAllowlist!: string[];

  @Column('timestamptz', { nullable: true })
  lastUsedAt!: Date | null;

  @Column('timestamptz', { nullable: true })
  lastRotatedAt!: Date | null;

  @Column('timestamptz', { nullable: true })
  nextRotationAt!: Date | null;

  @Column('text', { array: true })
  riskFlags!: string[];

  /**
   * Usage in the days before the campaign opened (src/reviews/usage-recommendation.ts):
   * allowed calls in 30 and 90 days, refused calls in 90 days, granted scopes used
   * in 90 days. Null on items of campaigns opened before usage was recorded.
   */
  @Column('bigint', { name: 'calls_30d', nullable: true, transformer: countColumn })
  calls30d!: number | null;

  @Column('bigint', { name: 'calls_90d', nullable: true, transformer: countColumn })
  calls90d!: number | null;

  @Column('bigint', { name: 'denied_90d', nullable: true, transformer: countColumn })
  denied90d!: number | null;

  @Column('text', { name: 'scopes_used_90d', array: true, nullable: true })
  scopesUsed90d!: string[] | null;

  /** The decision the usage suggests, when the campaign opened. */
  @Column('text', { nullable: true })
  recommendation!: Recommendation | null;

  /** With `reduce`: the scopes to keep (those used). */
  @Column('text', { array: true, nullable: true })
  recommendedScopes!: string[] | null;

  @Column('text', { nullable: true })
  recommendationReason!: string | null;

  @Column('text')
  status!: ReviewItemStatus;

  @Column('text', { nullable: true })
  decision!: ReviewDecision | null;

  /** Token id of whoever decided (the item's owner or an admin). */
  @Column('text', { nullable: true })
  decidedBy!: string | null;

  @Column('timestamptz', { nullable: true })
  decidedAt!: Date | null;

  @Column('text', { nullable: true })
  comment!: string | null;

  @Column('text', { nullable: true })
  outcome!: ReviewOutcome | null;

  /** The credential's scopes once the outcome was carried out (empty when revoked). */
  @Column('text', { array: true, nullable: true })
  scopesAfter!: string[] | null;

  @Column('timestamptz', { nullable: true })
  resolvedAt!: Date | null;

  @Column('timestamptz')
  createdAt!: Date;
}
