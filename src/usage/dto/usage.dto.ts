import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsIP,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

import { IsTimestamp } from '../../common/http/timestamp';
import { PageQueryDto, PageResponseDto } from '../../common/pagination/pagination';
import { SCOPE_PATTERN, VERIFY_CODES } from '../../enforcement/verification-codes';

export const MAX_USAGE_EVENTS = 1000;
export const DENY_CODES = VERIFY_CODES.filter((code) => code !== 'VALID');

/** One call a gateway verified itself. Validated on its own (UsageIngestionService), so one bad event rejects only itself. */
export class UsageEventInputDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'The credential; or give clientId' })
  @IsOptional()
  @IsUUID()
  credentialId?: string;

  @ApiPropertyOptional({ description: "The credential's client id; or give credentialId" })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  clientId?: string;

  @ApiProperty({
    format: 'date-time',
    description: 'When the gateway took the call; not in the future, not older than USAGE_RETENTION_DAYS',
  })
  @IsTimestamp()
  at!: string;

  @ApiProperty({ example: 'GET' })
  @IsString()
  @Matches(/^[A-Za-z]{1,16}$/, { message: 'method must be an HTTP method name' })
  method!: string;

  @ApiProperty({ example: '/v1/orders', description: 'The path; a query string is cut off and not kept' })
  @IsString()
  @MaxLength(2048)
  @Matches(/^\//, { message: 'path must start with /' })
  path!: string;

  @ApiPropertyOptional({ example: 'orders:read' })
  @IsOptional()
  @IsString()
  @Matches(SCOPE_PATTERN, { message: 'scope must look like product:operation' })
  scope?: string;

  @ApiProperty({ minimum: 100, maximum: 599 })
  @IsInt()
  @Min(100)
  @Max(599)
  statusCode!: number;

  @ApiProperty({ description: 'The client address' })
  @IsIP()
  ip!: string;

  @ApiProperty()
  @IsString()
  @MaxLength(128)
  @Matches(/^[\x21-\x7e]+$/, { message: 'requestId must be printable ASCII without spaces' })
  requestId!: string;

  @ApiProperty({ enum: ['allowed', 'denied'] })
  @IsIn(['allowed', 'denied'])
  outcome!: 'allowed' | 'denied';

  @ApiPropertyOptional({ enum: DENY_CODES, description: 'Required when denied, absent when allowed' })
  @IsOptional()
  @IsIn(DENY_CODES)
  denyCode?: string;
}

export class IngestUsageDto {
  @ApiProperty({ type: [UsageEventInputDto], minItems: 1, maxItems: MAX_USAGE_EVENTS })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_USAGE_EVENTS)
  events!: unknown[];
}

export class RejectedUsageEventDto {
  @ApiProperty()
  index!: number;

  @ApiProperty({ type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } })
  errors!: Array<{ field: string; message: string }>;
}

export class IngestUsageAnswerDto {
  @ApiProperty()
  accepted!: number;

  @ApiProperty({ type: [RejectedUsageEventDto] })
  rejected!: RejectedUsageEventDto[];
}

export class UsageEventsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  credentialId?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsTimestamp()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsTimestamp()
  to?: string;
}

export class UsageEventDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ format: 'uuid' }) credentialId!: string;
  @ApiProperty() clientId!: string;
  @ApiProperty({ enum: ['verify', 'authz', 'gateway'] }) source!: string;
  @ApiProperty({ type: String, nullable: true, format: 'uuid' }) gatewayId!: string | null;
  @ApiProperty({ type: String, nullable: true }) method!: string | null;
  @ApiProperty({ type: String, nullable: true }) path!: string | null;
  @ApiProperty({ type: String, nullable: true }) scope!: string | null;
  @ApiProperty({ type: Number, nullable: true }) statusCode!: number | null;
  @ApiProperty({ type: String, nullable: true }) ip!: string | null;
  @ApiProperty({ type: String, nullable: true }) requestId!: string | null;
  @ApiProperty({ enum: ['allowed', 'denied'] }) outcome!: string;
  @ApiProperty({ type: String, nullable: true }) denyCode!: string | null;
}

export class UsageEventPageDto extends PageResponseDto {
  @ApiProperty({ type: [UsageEventDto] })
  items!: UsageEventDto[];
}

export class CredentialUsageQueryDto {
  @ApiPropertyOptional({ format: 'date-time', description: 'Default: 24 hours (hour) or 30 days (day) before `to`' })
  @IsOptional()
  @IsTimestamp()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Default: now' })
  @IsOptional()
  @IsTimestamp()
  to?: string;

  @ApiPropertyOptional({ enum: ['hour', 'day'], default: 'hour' })
  @IsOptional()
  @IsIn(['hour', 'day'])
  granularity?: 'hour' | 'day';
}

export class UsageBucketDto {
  @ApiProperty({ format: 'date-time' }) start!: string;
  @ApiProperty() calls!: number;
  @ApiProperty() denied!: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, description: 'Calls by the scope they named' })
  byScope!: Record<string, number>;
  @ApiProperty() distinctIps!: number;
}

export class TopIpDto {
  @ApiProperty() ip!: string;
  @ApiProperty() calls!: number;
}

export class CredentialUsageDto {
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) lastUsedAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) lastUsedIp!: string | null;
  @ApiProperty({ enum: ['hour', 'day'] }) granularity!: 'hour' | 'day';
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
  @ApiProperty({ type: [UsageBucketDto], description: 'Every bucket of the range, oldest first (empty ones included)' })
  buckets!: UsageBucketDto[];
  @ApiProperty({ type: [TopIpDto], description: 'The 10 addresses with the most calls in the range' })
  topIps!: TopIpDto[];
}
