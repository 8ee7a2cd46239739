import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';

import { REVIEW_DECISIONS, REVIEW_ITEM_STATUSES, REVIEW_OUTCOMES } from '../entities/review-item.entity';
import { RISK_FLAGS } from '../risk-flags';
import { RECOMMENDATIONS } from '../usage-recommendation';
import { CampaignProgressDto } from './campaign.dto';
import { SignoffDto } from './review-item.dto';

export const REPORT_FORMATS = ['json', 'csv'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export class ReportQueryDto {
  @ApiPropertyOptional({ enum: REPORT_FORMATS, default: 'json' })
  @IsOptional()
  @IsIn(REPORT_FORMATS)
  format?: ReportFormat;
}

export class ReportRowDto {
  @ApiProperty({ format: 'uuid' }) itemId!: string;
  @ApiProperty({ format: 'uuid' }) credentialId!: string;
  @ApiProperty() clientId!: string;
  @ApiProperty({ format: 'uuid' }) agentId!: string;
  @ApiProperty() agentName!: string;
  @ApiProperty({ format: 'uuid' }) ownerId!: string;
  @ApiProperty() environment!: string;
  @ApiProperty({ type: [String] }) scopesBefore!: string[];
  @ApiProperty({ type: [String], nullable: true }) scopesAfter!: string[] | null;
  @ApiProperty({ enum: RISK_FLAGS, isArray: true }) riskFlags!: string[];
  @ApiProperty() rateLimitRequests!: number;
  @ApiProperty() rateLimitPerSeconds!: number;
  @ApiProperty({ type: [String] }) ipAllowlist!: string[];
  @ApiProperty({ type: String, nullable: true }) lastUsedAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) lastRotatedAt!: string | null;
  @ApiProperty({ type: Number, nullable: true, description: 'Calls allowed in the 30 days before the open' }) calls30d!: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'Calls allowed in the 90 days before the open' }) calls90d!: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'Calls refused in those 90 days' }) denied90d!: number | null;
  @ApiProperty({ type: [String], nullable: true, description: 'Granted scopes used in those 90 days' }) scopesUsed90d!: string[] | null;
  @ApiProperty({ enum: RECOMMENDATIONS, nullable: true, type: String }) recommendation!: string | null;
  @ApiProperty({ type: [String], nullable: true, description: 'reduce: the scopes to keep' }) recommendedScopes!: string[] | null;
  @ApiProperty({ type: String, nullable: true }) recommendationReason!: string | null;
  @ApiProperty({ enum: REVIEW_ITEM_STATUSES }) status!: string;
  @ApiProperty({ enum: REVIEW_DECISIONS, nullable: true, type: String }) decision!: string | null;
  @ApiProperty({ enum: REVIEW_OUTCOMES, nullable: true, type: String }) outcome!: string | null;
  @ApiProperty({ type: String, nullable: true }) decidedBy!: string | null;
  @ApiProperty({ type: String, nullable: true }) decidedAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) comment!: string | null;
  @ApiProperty({ type: String, nullable: true }) resolvedAt!: string | null;
  @ApiProperty({ type: String, nullable: true, description: "The owner's sign-off of this campaign, if any" }) ownerSignedOffAt!:
    string | null;
  @ApiProperty({ type: String, nullable: true }) ownerSignedBy!: string | null;
  @ApiProperty({ type: String, nullable: true }) ownerDecisionsSha256!: string | null;
}

export class CampaignReportDto {
  @ApiProperty({ type: CampaignProgressDto }) campaign!: CampaignProgressDto;
  @ApiProperty({ type: [SignoffDto] }) signoffs!: SignoffDto[];
  @ApiProperty({ type: [ReportRowDto], description: 'One row per review item' }) items!: ReportRowDto[];
}
