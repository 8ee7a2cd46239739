import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

import { FreeText } from '../../common/http/free-text';
import { PageQueryDto, PageResponseDto } from '../../common/pagination/pagination';
import {
  ROTATION_STATUSES,
  ROTATION_STEPS,
  ROTATION_TRIGGERS,
  type RotationStatus,
  type RotationStep,
  type RotationTrigger,
} from '../entities/rotation.entity';

export class RotateCredentialDto {
  @ApiPropertyOptional({ example: 'key pasted into a support ticket', maxLength: 1000 })
  @FreeText()
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(1000)
  @Matches(/\S/, { message: 'must not be blank' })
  reason?: string;

  @ApiPropertyOptional({
    default: false,
    description: 'Leak response: grace period zero; every non-current version is retired as soon as the new one is promoted',
  })
  @IsOptional()
  @IsBoolean()
  immediate?: boolean;
}

export class RotationAcceptedDto {
  @ApiProperty({ format: 'uuid' }) rotationId!: string;
}

export class RotationDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) credentialId!: string;
  @ApiProperty({ enum: ROTATION_STEPS, description: 'The step reached: pending, published, verified, promoted, retired' })
  step!: RotationStep;
  @ApiProperty({ enum: ROTATION_STATUSES, description: 'completed once the new version is promoted' }) status!: RotationStatus;
  @ApiProperty({ enum: ROTATION_TRIGGERS }) trigger!: RotationTrigger;
  @ApiProperty() immediate!: boolean;
  @ApiProperty({ type: String, nullable: true }) reason!: string | null;
  @ApiProperty({ description: 'Token id of whoever asked for it, or system:rotation-scheduler' }) requestedBy!: string;
  @ApiProperty({ enum: ['local', 'vault', 'aws'] }) secretStore!: string;
  @ApiProperty() fromVersion!: number;
  @ApiProperty() toVersion!: number;
  @ApiProperty({ description: 'Failed tries since it was (re)started' }) attempts!: number;
  @ApiProperty({ type: String, nullable: true, description: 'The last failure, in words' }) error!: string | null;
  @ApiProperty({ format: 'date-time' }) startedAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) publishedAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When the new version was promoted' })
  completedAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) failedAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'Until when the previous version stays valid' })
  graceEndsAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When the previous version was destroyed' })
  retiredAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'While running: when its next try is due' })
  nextAttemptAt!: string | null;
}

export class RotationPageDto extends PageResponseDto {
  @ApiProperty({ type: [RotationDto] }) items!: RotationDto[];
}

export class RotationListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ROTATION_STATUSES, description: '`failed` lists the dead letters' })
  @IsOptional()
  @IsIn(ROTATION_STATUSES)
  status?: RotationStatus;
}
