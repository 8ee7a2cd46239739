import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUUID,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

import { FreeText } from '../../common/http/free-text';
import { IsTimestamp } from '../../common/http/timestamp';
import { PageQueryDto, PageResponseDto } from '../../common/pagination/pagination';
import {
  CAMPAIGN_STATUSES,
  type CampaignStatus,
  CLOSE_REASONS,
  type CloseReason,
  EXPIRY_ACTIONS,
  type ExpiryAction,
} from '../entities/campaign.entity';

export const ENVIRONMENT_VALUES = ['sandbox', 'production'] as const;
export type EnvironmentValue = (typeof ENVIRONMENT_VALUES)[number];
export const MAX_SCOPE_OWNERS = 500;

/** What a campaign covers and how long it runs: given when opening one, or by a schedule for each campaign it opens. */
class CampaignTermsDto {
  @ApiPropertyOptional({ enum: ENVIRONMENT_VALUES, description: 'Only credentials of this environment; both when omitted' })
  @IsOptional()
  @IsIn(ENVIRONMENT_VALUES)
  environment?: EnvironmentValue;

  @ApiPropertyOptional({ type: [String], format: 'uuid', description: "Only these owners' credentials; every owner when omitted" })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_SCOPE_OWNERS)
  @IsUUID('all', { each: true })
  ownerIds?: string[];

  @ApiPropertyOptional({ minimum: 1, maximum: 90, default: 14 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(90)
  dueInDays?: number;

  @ApiPropertyOptional({ enum: EXPIRY_ACTIONS, default: 'keep', description: 'What happens to items still undecided at the deadline' })
  @IsOptional()
  @IsIn(EXPIRY_ACTIONS)
  onExpiry?: ExpiryAction;
}

export class OpenCampaignDto extends CampaignTermsDto {
  @ApiProperty({ maxLength: 200, example: 'Q3 agent access review' })
  @FreeText()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;
}

export class CampaignListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: CAMPAIGN_STATUSES })
  @IsOptional()
  @IsIn(CAMPAIGN_STATUSES)
  status?: CampaignStatus;
}

export class CampaignDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: CAMPAIGN_STATUSES }) status!: CampaignStatus;
  @ApiProperty({ enum: ENVIRONMENT_VALUES, nullable: true, type: String }) environment!: string | null;
  @ApiProperty({ type: [String], nullable: true }) ownerIds!: string[] | null;
  @ApiProperty({ enum: EXPIRY_ACTIONS }) onExpiry!: ExpiryAction;
  @ApiProperty({ format: 'date-time' }) dueAt!: string;
  @ApiProperty({ description: 'One item per credential that was active and in scope when the campaign opened' }) itemCount!: number;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) scheduleId!: string | null;
  @ApiProperty({ type: Number, nullable: true, description: 'The schedule period this campaign was opened for' })
  schedulePeriod!: number | null;
  @ApiProperty({ description: 'Token id of the admin, or system:reviews for a schedule' }) openedBy!: string;
  @ApiProperty({ format: 'date-time' }) openedAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) closedAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) closedBy!: string | null;
  @ApiProperty({ enum: CLOSE_REASONS, nullable: true, type: String }) closeReason!: CloseReason | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class OwnerProgressDto {
  @ApiProperty({ format: 'uuid' }) ownerId!: string;
  @ApiProperty() total!: number;
  @ApiProperty() decided!: number;
  @ApiProperty() expired!: number;
  @ApiProperty() pending!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) signedOffAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) decisionsSha256!: string | null;
}

export class CampaignProgressDto extends CampaignDto {
  @ApiProperty() decidedCount!: number;
  @ApiProperty() expiredCount!: number;
  @ApiProperty() pendingCount!: number;
  @ApiProperty({ type: [OwnerProgressDto], description: 'An owner token sees only its own entry' }) owners!: OwnerProgressDto[];
}

export class CampaignPageDto extends PageResponseDto {
  @ApiProperty({ type: [CampaignDto] }) items!: CampaignDto[];
}

export class CreateScheduleDto extends CampaignTermsDto {
  @ApiProperty({ maxLength: 200, example: 'Quarterly production review' })
  @FreeText()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 3650, default: 90 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3650)
  everyDays?: number;

  @ApiPropertyOptional({
    format: 'date-time',
    description: 'When the first period starts; now by default. Period k starts at startsAt + k·everyDays.',
  })
  @IsOptional()
  @IsTimestamp()
  startsAt?: string;
}

export class ScheduleDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() everyDays!: number;
  @ApiProperty({ enum: ENVIRONMENT_VALUES, nullable: true, type: String }) environment!: string | null;
  @ApiProperty({ type: [String], nullable: true }) ownerIds!: string[] | null;
  @ApiProperty() dueInDays!: number;
  @ApiProperty({ enum: EXPIRY_ACTIONS }) onExpiry!: ExpiryAction;
  @ApiProperty({ format: 'date-time' }) startsAt!: string;
  @ApiProperty({ format: 'date-time', description: 'When the next period starts (the sweep then opens its campaign)' })
  nextPeriodAt!: string;
  @ApiProperty() createdBy!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class SchedulePageDto extends PageResponseDto {
  @ApiProperty({ type: [ScheduleDto] }) items!: ScheduleDto[];
}
