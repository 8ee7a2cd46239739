import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';

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
