import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';

import { IsTimestamp } from '../../common/http/timestamp';
import { PageQueryDto, PageResponseDto } from '../../common/pagination/pagination';

export class AuditQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ description: 'Token id of the actor' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  actor?: string;

  @ApiPropertyOptional({ example: 'credential.created' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  action?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  targetId?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsTimestamp()
  since?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsTimestamp()
  until?: string;
}

export class AuditActorDto {
  @ApiProperty() tokenId!: string;
  @ApiProperty({ enum: ['admin', 'owner', 'responder', 'auditor', 'system'] }) role!: string;
  @ApiProperty({ type: String, nullable: true, format: 'uuid' }) ownerId!: string | null;
}

export class AuditEventDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() seq!: number;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ type: AuditActorDto }) actor!: AuditActorDto;
  @ApiProperty({ example: 'credential.created' }) action!: string;
  @ApiProperty() targetType!: string;
  @ApiProperty() targetId!: string;
  @ApiProperty() requestId!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) data!: Record<string, unknown>;
  @ApiProperty() hash!: string;
  @ApiProperty() prevHash!: string;
}

export class AuditEventPageDto extends PageResponseDto {
  @ApiProperty({ type: [AuditEventDto] }) items!: AuditEventDto[];
}

export class ChainVerificationDto {
  @ApiProperty() valid!: boolean;
  @ApiProperty() count!: number;
  @ApiProperty() headHash!: string;
  @ApiPropertyOptional() firstBrokenSeq?: number;
  @ApiPropertyOptional({ description: 'Events neither linked nor queued for linking: written around the service' })
  unlinkedEvents?: number;
}
