import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

/** An event cursor: a position in the event log, in decimal ('0' is before the first event). */
export const EVENT_CURSOR_RE = /^(0|[1-9]\d{0,17})$/;

export class SnapshotQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 500 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;

  @ApiPropertyOptional({ description: 'Opaque cursor from the previous page of the same snapshot' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

export class EventsQueryDto {
  @ApiProperty({ description: "A snapshot's `eventCursor`, or an event's `eventCursor`: replay starts after it", example: '0' })
  @IsString()
  @Matches(EVENT_CURSOR_RE, { message: 'must be an eventCursor this API issued' })
  after!: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class RateLimitDto {
  @ApiProperty({ example: 1000 })
  requests!: number;

  @ApiProperty({ example: 60 })
  perSeconds!: number;
}

export class SnapshotVersionDto {
  @ApiProperty({ example: 3 })
  version!: number;

  @ApiProperty({
    description: 'SHA-256 of the secret, lowercase hex',
    example: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  })
  secretSha256!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    format: 'date-time',
    description: 'When this version stops being valid (the end of its grace period); null for a version without an end',
  })
  validUntil!: string | null;
}

export class SnapshotCredentialDto {
  @ApiProperty({ format: 'uuid' })
  credentialId!: string;

  @ApiProperty()
  clientId!: string;

  @ApiProperty({ format: 'uuid' })
  agentId!: string;

  @ApiProperty({ format: 'uuid' })
  ownerId!: string;

  @ApiProperty({ enum: ['sandbox', 'production'] })
  environment!: 'sandbox' | 'production';

  @ApiProperty({ type: [String], example: ['payments:read'] })
  scopes!: string[];

  @ApiProperty({ type: RateLimitDto })
  rateLimit!: RateLimitDto;

  @ApiProperty({ type: [String], example: ['10.0.0.0/8'] })
  ipAllowlist!: string[];

  @ApiProperty({ type: [SnapshotVersionDto] })
  versions!: SnapshotVersionDto[];
}

export class SnapshotPageDto {
  @ApiProperty({ type: [SnapshotCredentialDto] })
  items!: SnapshotCredentialDto[];

  @ApiProperty({ type: String, nullable: true, description: 'The next page of this snapshot; null after the last' })
  nextCursor!: string | null;

  @ApiProperty({
    description: 'Replay GET /v1/gateways/{id}/events?after=<eventCursor> after the snapshot: the same on every page of one snapshot',
    example: '1042',
  })
  eventCursor!: string;
}

export class GatewayEventDto {
  @ApiProperty({ description: "This event's position: replay continues after it", example: '1043' })
  eventCursor!: string;

  @ApiProperty({ format: 'uuid', description: 'The webhook-id the gateway received it with' })
  id!: string;

  @ApiProperty({ example: 'credential.revoked' })
  type!: string;

  @ApiProperty({ format: 'date-time' })
  timestamp!: string;

  @ApiProperty({ type: 'object', additionalProperties: true, description: "The webhook body's data" })
  data!: Record<string, unknown>;
}

export class GatewayEventPageDto {
  @ApiProperty({ type: [GatewayEventDto] })
  items!: GatewayEventDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The `after` of the next page; null when there is none yet (poll again after the last eventCursor)',
  })
  nextCursor!: string | null;
}
