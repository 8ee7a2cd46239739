import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';

import { FreeText } from '../../common/http/free-text';

export class RevokeDto {
  @ApiProperty({ example: 'key leaked in a public repository', maxLength: 1000 })
  @FreeText()
  @IsString()
  @MinLength(1)
  @MaxLength(1000)
  @Matches(/\S/, { message: 'must not be blank' })
  reason!: string;
}

export class RevocationAcceptedDto {
  @ApiProperty({ format: 'uuid' }) revocationId!: string;
  @ApiProperty({ type: [String], format: 'uuid' }) credentialIds!: string[];
  @ApiProperty({ format: 'date-time' }) revokedAt!: string;
}

export class RevokeAnswerDto extends RevocationAcceptedDto {
  @ApiProperty({
    description:
      'true when the reason held this credential’s own secret (a version still valid), recognised by SHA-256: a confirmed leak. ' +
      'Secret-shaped values in the reason are stored as a marker (prefix, …, last four characters), never in full.',
  })
  reasonContainedSecret!: boolean;
}

export class WaitQueryDto {
  @ApiPropertyOptional({
    minimum: 0,
    maximum: 30,
    default: 0,
    description: 'Hold the answer until every delivery is done or this many seconds pass',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(30)
  waitSeconds?: number;
}

export class RevocationActorDto {
  @ApiProperty() tokenId!: string;
  @ApiProperty({ enum: ['admin', 'owner', 'responder', 'auditor', 'system'] }) role!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) ownerId!: string | null;
}

export class GatewayPropagationDto {
  @ApiProperty({ format: 'uuid' }) gatewayId!: string;
  @ApiProperty({ enum: ['pending', 'delivered', 'failed'] }) status!: 'pending' | 'delivered' | 'failed';
  @ApiProperty({ description: "Attempts over this revocation's events to this gateway" }) attempts!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) deliveredAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) lastError!: string | null;
  @ApiProperty({ type: Number, nullable: true }) lastStatusCode!: number | null;
  @ApiProperty({ type: [String], format: 'uuid', description: 'One per revoked credential' }) deliveryIds!: string[];
}

export class SecretDestructionDto {
  @ApiProperty({ format: 'uuid' }) credentialId!: string;
  @ApiProperty({ enum: ['pending', 'destroyed'] }) status!: 'pending' | 'destroyed';
  @ApiProperty() attempts!: number;
  @ApiProperty({ type: String, nullable: true }) lastError!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) destroyedAt!: string | null;
}

export class RevocationDto extends RevocationAcceptedDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'Set when a whole agent was revoked' }) agentId!: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) ownerId!: string | null;
  @ApiProperty() reason!: string;
  @ApiProperty({ type: RevocationActorDto }) actor!: RevocationActorDto;
  @ApiProperty({ enum: ['propagating', 'complete', 'failed'] }) status!: 'propagating' | 'complete' | 'failed';
  @ApiProperty({ type: [GatewayPropagationDto] }) deliveries!: GatewayPropagationDto[];
  @ApiProperty({ type: [SecretDestructionDto], description: 'Destruction of each secret in its store, retried until done' })
  secrets!: SecretDestructionDto[];
}
