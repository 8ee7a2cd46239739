import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, Matches, MaxLength, MinLength } from 'class-validator';

import { FreeText } from '../../common/http/free-text';
import { PageQueryDto, PageResponseDto } from '../../common/pagination/pagination';
import {
  ALERT_SEVERITIES,
  ALERT_STATUSES,
  ALERT_TYPES,
  type AlertSeverity,
  type AlertStatus,
  type AlertType,
  POLICY_ACTIONS,
  type PolicyAction,
} from '../alert-types';

export class AlertActionDto {
  @ApiProperty({ enum: ['rotate', 'revoke'] }) type!: 'rotate' | 'revoke';
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiPropertyOptional({ format: 'uuid' }) rotationId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) revocationId?: string;
  @ApiPropertyOptional({ description: 'Why the action was not carried out (the credential already revoked, a rotation running, ...)' })
  skipped?: string;
}

export class AlertDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: ALERT_TYPES }) type!: AlertType;
  @ApiProperty({ enum: ALERT_SEVERITIES }) severity!: AlertSeverity;
  @ApiProperty({ enum: ALERT_STATUSES }) status!: AlertStatus;
  @ApiProperty({ format: 'uuid' }) credentialId!: string;
  @ApiProperty({ format: 'uuid' }) agentId!: string;
  @ApiProperty({ format: 'uuid' }) ownerId!: string;
  @ApiProperty({ format: 'date-time' }) firstSeenAt!: string;
  @ApiProperty({ format: 'date-time' }) lastSeenAt!: string;
  @ApiProperty({ description: 'Sightings counted into this alert (calls, minutes, hours or networks, by type)' }) count!: number;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'What the latest sighting was: addresses, counts, codes, versions, never a key or secret',
  })
  evidence!: Record<string, unknown>;
  @ApiProperty({ type: AlertActionDto, nullable: true, description: "What the type's policy did when the alert was raised" })
  action!: AlertActionDto | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) acknowledgedAt!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'Token id' }) acknowledgedBy!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) resolvedAt!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'Token id' }) resolvedBy!: string | null;
  @ApiProperty({ type: String, nullable: true }) resolutionNote!: string | null;
}

export class AlertPageDto extends PageResponseDto {
  @ApiProperty({ type: [AlertDto] }) items!: AlertDto[];
}

export class AlertListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ALERT_STATUSES })
  @IsOptional()
  @IsIn(ALERT_STATUSES)
  status?: AlertStatus;

  @ApiPropertyOptional({ enum: ALERT_TYPES })
  @IsOptional()
  @IsIn(ALERT_TYPES)
  type?: AlertType;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID('all')
  credentialId?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID('all')
  ownerId?: string;
}

export class ResolveAlertDto {
  @ApiProperty({ example: 'false positive: the partner moved to a new data centre', maxLength: 2000 })
  @FreeText()
  @IsString()
  @MinLength(1)
  @MaxLength(2000)
  @Matches(/\S/, { message: 'must not be blank' })
  note!: string;
}

/** A malformed type is bad input (400); a well-formed one that names no alert type is not found (404). */
export class AlertPolicyTypeParamDto {
  @ApiProperty({ enum: ALERT_TYPES })
  @IsString()
  @Matches(/^[a-z][a-z_]{0,63}$/, { message: 'must be an alert type (lower-case letters and underscores)' })
  type!: string;
}

export class PutAlertPolicyDto {
  @ApiProperty({ enum: POLICY_ACTIONS, description: 'What a new alert of this type does: nothing, an immediate rotation, or a revocation' })
  @IsIn(POLICY_ACTIONS)
  action!: PolicyAction;
}

export class AlertPolicyDto {
  @ApiProperty({ enum: ALERT_TYPES }) type!: AlertType;
  @ApiProperty({ enum: POLICY_ACTIONS }) action!: PolicyAction;
}

export class AlertPolicyListDto {
  @ApiProperty({ type: [AlertPolicyDto], description: 'Every alert type' }) items!: AlertPolicyDto[];
}
