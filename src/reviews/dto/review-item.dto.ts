import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  MaxLength,
  ValidateNested,
} from 'class-validator';

import { FreeText } from '../../common/http/free-text';
import { PageQueryDto, PageResponseDto } from '../../common/pagination/pagination';
import {
  REVIEW_DECISIONS,
  REVIEW_ITEM_STATUSES,
  REVIEW_OUTCOMES,
  type ReviewDecision,
  type ReviewItemStatus,
  type ReviewOutcome,
} from '../entities/review-item.entity';
import { RISK_FLAGS, type RiskFlag } from '../risk-flags';
import { type Recommendation, RECOMMENDATIONS } from '../usage-recommendation';

export class ItemListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'An owner token may only ask for itself' })
  @IsOptional()
  @IsUUID()
  ownerId?: string;

  @ApiPropertyOptional({ enum: REVIEW_ITEM_STATUSES })
  @IsOptional()
  @IsIn(REVIEW_ITEM_STATUSES)
  status?: ReviewItemStatus;
}

export class DecideDto {
  @ApiProperty({ enum: REVIEW_DECISIONS })
  @IsIn(REVIEW_DECISIONS)
  decision!: ReviewDecision;

  @ApiPropertyOptional({
    type: [String],
    description: "reduce only: the scopes to keep, a non-empty strict subset of the credential's current scopes",
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(64)
  @IsString({ each: true })
  @MaxLength(128, { each: true })
  scopes?: string[];

  @ApiPropertyOptional({ maxLength: 2000 })
  @FreeText()
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  comment?: string;
}

/** Items one bulk call may list. */
export const MAX_BULK_ITEMS = 1000;

export class BulkDecisionItemDto extends DecideDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  itemId!: string;
}

export class BulkDecideDto {
  @ApiPropertyOptional({
    type: [BulkDecisionItemDto],
    maxItems: MAX_BULK_ITEMS,
    description: 'The decisions, each as the single-decision route takes it; give this or acceptRecommendations',
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BULK_ITEMS)
  @IsObject({ each: true })
  @ValidateNested({ each: true })
  @Type(() => BulkDecisionItemDto)
  items?: BulkDecisionItemDto[];

  @ApiPropertyOptional({
    description: "true: decide every pending item (the caller's own, or ownerId's) as its recommendation says",
  })
  @IsOptional()
  @IsBoolean()
  acceptRecommendations?: boolean;

  @ApiPropertyOptional({
    format: 'uuid',
    description:
      "With acceptRecommendations: whose items (an admin; an owner may name only itself). An admin without it decides every owner's",
  })
  @IsOptional()
  @IsUUID()
  ownerId?: string;
}

export class RateLimitSnapshotDto {
  @ApiProperty() requests!: number;
  @ApiProperty() perSeconds!: number;
}

export class ItemSnapshotDto {
  @ApiProperty({ type: [String] }) scopes!: string[];
  @ApiProperty({ type: RateLimitSnapshotDto }) rateLimit!: RateLimitSnapshotDto;
  @ApiProperty({ type: [String] }) ipAllowlist!: string[];
  @ApiProperty({ enum: ['sandbox', 'production'] }) environment!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastUsedAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastRotatedAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) nextRotationAt!: string | null;
  @ApiProperty() clientId!: string;
  @ApiProperty({ format: 'uuid' }) agentId!: string;
  @ApiProperty() agentName!: string;
}

export class ItemUsageDto {
  @ApiProperty({ description: 'Calls allowed in the 30 days before the campaign opened' }) calls30d!: number;
  @ApiProperty({ description: 'Calls allowed in the 90 days before the campaign opened' }) calls90d!: number;
  @ApiProperty({ description: 'Calls refused (any deny code) in those 90 days; never counted as a use' }) denied90d!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: "The credential's lastUsedAt when the campaign opened" })
  lastUsedAt!: string | null;
  @ApiProperty({ type: [String], description: 'Granted scopes an allowed call named in those 90 days, sorted' }) scopesUsed90d!: string[];
}

export class RecommendationDto {
  @ApiProperty({ enum: RECOMMENDATIONS }) decision!: Recommendation;
  @ApiPropertyOptional({ type: [String], description: 'reduce: the scopes to keep (those used)' }) scopes?: string[];
  @ApiProperty() reason!: string;
}

export class ReviewItemDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) campaignId!: string;
  @ApiProperty({ format: 'uuid' }) credentialId!: string;
  @ApiProperty({ format: 'uuid' }) ownerId!: string;
  @ApiProperty({ enum: REVIEW_ITEM_STATUSES }) status!: ReviewItemStatus;
  @ApiProperty({ enum: REVIEW_DECISIONS, nullable: true, type: String }) decision!: ReviewDecision | null;
  @ApiProperty({ type: String, nullable: true, description: 'Token id of the owner or admin who decided' }) decidedBy!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) decidedAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) comment!: string | null;
  @ApiProperty({ enum: RISK_FLAGS, isArray: true }) riskFlags!: RiskFlag[];
  @ApiProperty({ type: ItemSnapshotDto, description: 'The credential when the campaign opened' }) snapshot!: ItemSnapshotDto;
  @ApiProperty({
    type: ItemUsageDto,
    nullable: true,
    description: 'Usage when the campaign opened (null for campaigns opened before usage was recorded)',
  })
  usage!: ItemUsageDto | null;
  @ApiProperty({ type: RecommendationDto, nullable: true, description: 'What the usage suggests, computed when the campaign opened' })
  recommendation!: RecommendationDto | null;
  @ApiProperty({
    enum: REVIEW_OUTCOMES,
    nullable: true,
    type: String,
    description:
      'What was carried out: the decision, the expiry action, or revoked_elsewhere when the credential had been revoked outside the review',
  })
  outcome!: ReviewOutcome | null;
  @ApiProperty({ type: [String], nullable: true, description: 'The credential’s scopes after the outcome (empty when revoked)' })
  scopesAfter!: string[] | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) resolvedAt!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class ItemPageDto extends PageResponseDto {
  @ApiProperty({ type: [ReviewItemDto] }) items!: ReviewItemDto[];
}

export class MyReviewItemDto extends ReviewItemDto {
  @ApiProperty() campaignName!: string;
  @ApiProperty({ format: 'date-time' }) dueAt!: string;
}

export class MyReviewPageDto extends PageResponseDto {
  @ApiProperty({ type: [MyReviewItemDto] }) items!: MyReviewItemDto[];
}

export class CreateSignoffDto {
  @ApiPropertyOptional({ maxLength: 2000, description: 'What the owner attests; a standard statement when omitted' })
  @FreeText()
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  statement?: string;
}

export class SignoffDto {
  @ApiProperty({ format: 'uuid' }) campaignId!: string;
  @ApiProperty({ format: 'uuid' }) ownerId!: string;
  @ApiProperty({ description: 'Token id of the owner token that signed' }) signedBy!: string;
  @ApiProperty({ format: 'date-time' }) signedAt!: string;
  @ApiProperty() statement!: string;
  @ApiProperty() itemCount!: number;
  @ApiProperty({ description: "SHA-256 (hex) of the RFC 8785 canonical JSON of the owner's decisions, sorted by item id" })
  decisionsSha256!: string;
}

export class BulkDecisionResultDto {
  @ApiProperty({ description: 'Items decided by this call' }) decided!: number;
  @ApiProperty({
    type: [ReviewItemDto],
    description:
      "The items as decided, in the request's order (acceptRecommendations: by item id); outcome revoked_elsewhere where the credential had been revoked outside the review",
  })
  items!: ReviewItemDto[];
}
