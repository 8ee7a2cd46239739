import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
} from 'class-validator';

import { FreeText } from '../../common/http/free-text';
import { PageQueryDto, PageResponseDto } from '../../common/pagination/pagination';
import { DELIVERY_STATUSES, DELIVERY_TARGETS, type DeliveryStatus, type DeliveryTarget } from '../entities/delivery.entity';
import { GATEWAY_ENVIRONMENTS, GATEWAY_STATUSES, type GatewayEnvironment, type GatewayStatus } from '../entities/gateway.entity';

const BATCH_EVENTS_DESCRIPTION =
  'Receive up to 500 events per signed request, as { "type": "batch", "events": [{ "id", "type", "timestamp", "data" }, ...] } in event order; false: one event per request';

export class CreateGatewayDto {
  @ApiProperty({ example: 'kong-eu-1', maxLength: 100 })
  @FreeText()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  @Matches(/^\S(.*\S)?$/, { message: 'must not start or end with whitespace' })
  name!: string;

  @ApiProperty({
    example: 'https://kong-eu-1.example.com/agent-credentials/events',
    description: 'http or https; redirects are never followed',
  })
  @IsString()
  @MaxLength(2048)
  url!: string;

  @ApiProperty({ enum: GATEWAY_ENVIRONMENTS, isArray: true, example: ['production'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(GATEWAY_ENVIRONMENTS.length)
  @ArrayUnique()
  @IsIn(GATEWAY_ENVIRONMENTS, { each: true })
  environments!: GatewayEnvironment[];

  @ApiPropertyOptional({ default: false, description: BATCH_EVENTS_DESCRIPTION })
  @IsOptional()
  @IsBoolean()
  batchEvents?: boolean;
}

export class UpdateGatewayDto {
  @ApiPropertyOptional({ description: BATCH_EVENTS_DESCRIPTION })
  @IsOptional()
  @IsBoolean()
  batchEvents?: boolean;
}

export class GatewayDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() url!: string;
  @ApiProperty({ enum: GATEWAY_ENVIRONMENTS, isArray: true }) environments!: GatewayEnvironment[];
  @ApiProperty({ enum: GATEWAY_STATUSES, description: 'disabled after a 410 Gone answer' }) status!: GatewayStatus;
  @ApiProperty({ description: BATCH_EVENTS_DESCRIPTION }) batchEvents!: boolean;
  @ApiProperty({ description: 'Increases with each signing-secret rotation' }) signingSecretVersion!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) signingSecretRotatedAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'Until then the previous key also signs' })
  previousSigningSecretExpiresAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) disabledAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) disabledReason!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

export class CreatedGatewayDto {
  @ApiProperty({ type: GatewayDto }) gateway!: GatewayDto;
  @ApiProperty({ description: 'whsec_ + base64 of 32 random bytes; shown only here', example: 'whsec_...' })
  signingSecret!: string;
}

export class RotatedSigningSecretDto {
  @ApiProperty({ description: 'The new secret, shown only here; the previous one also signs for 24 hours' })
  signingSecret!: string;
  @ApiProperty({ type: GatewayDto }) gateway!: GatewayDto;
}

export class GatewayPageDto extends PageResponseDto {
  @ApiProperty({ type: [GatewayDto] }) items!: GatewayDto[];
}

export class DeliveryListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES })
  @IsOptional()
  @IsIn(DELIVERY_STATUSES)
  status?: DeliveryStatus;
}

export class DeliveryDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid', description: 'Also the webhook-id header of every attempt' }) eventId!: string;
  @ApiProperty({ example: 'credential.revoked' }) eventType!: string;
  @ApiProperty({ enum: DELIVERY_TARGETS }) target!: DeliveryTarget;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) gatewayId!: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) credentialId!: string | null;
  @ApiProperty({ enum: DELIVERY_STATUSES }) status!: DeliveryStatus;
  @ApiProperty() attempts!: number;
  @ApiProperty({ type: Number, nullable: true }) lastStatusCode!: number | null;
  @ApiProperty({ type: String, nullable: true }) lastError!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastAttemptAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) nextAttemptAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) deliveredAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) failedAt!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class DeliveryPageDto extends PageResponseDto {
  @ApiProperty({ type: [DeliveryDto] }) items!: DeliveryDto[];
}
