import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';

import { FreeText } from '../../common/http/free-text';
import { IsTimestamp } from '../../common/http/timestamp';
import { PageQueryDto, PageResponseDto } from '../../common/pagination/pagination';
import { SECRET_STORE_NAMES, type SecretStoreName } from '../../config/app-config';
import { MAX_BULK_REVOCATION } from '../revocation-errors';

const ENVIRONMENTS = ['sandbox', 'production'] as const;
const SCOPE_PATTERN = /^[a-z][a-z0-9-]{1,62}:[a-z]+$/;
const PRODUCT_PATTERN = /^[a-z][a-z0-9-]{1,62}$/;
/** Ids a filter may list: a 1 MiB body holds about 25,000 uuids anyway. */
const MAX_FILTER_IDS = MAX_BULK_REVOCATION;

export class RevokeDto {
  @ApiProperty({ example: 'key leaked in a public repository', maxLength: 1000 })
  @FreeText()
  @IsString()
  @MinLength(1)
  @MaxLength(1000)
  @Matches(/\S/, { message: 'must not be blank' })
  reason!: string;
}

/** What a bulk revocation selects: every field given must hold (`scopes`, `products`: any of them). */
export class RevocationFilterDto {
  @ApiPropertyOptional({ type: [String], format: 'uuid', maxItems: MAX_FILTER_IDS })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_FILTER_IDS)
  @IsUUID('all', { each: true })
  credentialIds?: string[];

  @ApiPropertyOptional({ type: [String], format: 'uuid', maxItems: MAX_FILTER_IDS })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_FILTER_IDS)
  @IsUUID('all', { each: true })
  agentIds?: string[];

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  ownerId?: string;

  @ApiPropertyOptional({ enum: ENVIRONMENTS })
  @IsOptional()
  @IsIn(ENVIRONMENTS)
  environment?: (typeof ENVIRONMENTS)[number];

  @ApiPropertyOptional({ type: [String], example: ['customers:write'], description: 'Credentials holding any of these scopes' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @Matches(SCOPE_PATTERN, { each: true, message: 'each value must be product:operation, e.g. customers:read' })
  scopes?: string[];

  @ApiPropertyOptional({ type: [String], example: ['customers'], description: 'Credentials with a scope on any of these products' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @Matches(PRODUCT_PATTERN, { each: true, message: 'each value must be a product name (^[a-z][a-z0-9-]{1,62}$)' })
  products?: string[];

  @ApiPropertyOptional({ format: 'date-time', description: 'Credentials created before this time' })
  @IsOptional()
  @IsTimestamp()
  createdBefore?: string;

  @ApiPropertyOptional({ enum: SECRET_STORE_NAMES })
  @IsOptional()
  @IsIn(SECRET_STORE_NAMES)
  secretStore?: SecretStoreName;
}

export class BulkRevokeDto extends RevokeDto {
  @ApiProperty({ type: RevocationFilterDto, description: 'At least one field' })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => RevocationFilterDto)
  filter!: RevocationFilterDto;

  @ApiPropertyOptional({ default: false, description: 'Count and sample the matches; change and store nothing' })
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;
}

export class BulkDryRunDto {
  @ApiProperty({ description: 'Credentials the filter matches now' }) count!: number;
  @ApiProperty({ type: [String], format: 'uuid', description: 'The first 20 of them, by id' }) sample!: string[];
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

export class BulkRevokeAnswerDto extends RevokeAnswerDto {
  @ApiProperty({ description: 'How many credentials this revocation revoked' }) count!: number;
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

export class GetRevocationQueryDto extends WaitQueryDto {
  @ApiPropertyOptional({
    enum: ['full', 'summary'],
    default: 'full',
    description:
      "summary: the per-gateway counts without the lists that grow with the revocation (credentialIds, each gateway's " +
      'deliveryIds and secrets are empty; credentialCount and secretCounts say how many): what a client polling a large ' +
      'revocation needs',
  })
  @IsOptional()
  @IsIn(['full', 'summary'])
  view?: 'full' | 'summary';
}

export class SecretCountsDto {
  @ApiProperty({ description: 'Secrets still to destroy (retried until their store confirms)' }) pending!: number;
  @ApiProperty() destroyed!: number;
}

export class RevocationActorDto {
  @ApiProperty() tokenId!: string;
  @ApiProperty({ enum: ['admin', 'owner', 'responder', 'auditor', 'system'] }) role!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) ownerId!: string | null;
}

export class GatewayPropagationDto {
  @ApiProperty({ format: 'uuid' }) gatewayId!: string;
  @ApiProperty({ enum: ['pending', 'delivered', 'failed'] }) status!: 'pending' | 'delivered' | 'failed';
  @ApiProperty({ description: "This revocation's deliveries to this gateway (one per revoked credential)" }) total!: number;
  @ApiProperty() delivered!: number;
  @ApiProperty() pending!: number;
  @ApiProperty() failed!: number;
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
  @ApiProperty({
    type: [SecretDestructionDto],
    description: 'Destruction of each secret in its store, retried until done (empty with view=summary)',
  })
  secrets!: SecretDestructionDto[];
  @ApiProperty({ description: 'Credentials it revoked (credentialIds lists them, except with view=summary)' }) credentialCount!: number;
  @ApiProperty({ type: SecretCountsDto }) secretCounts!: SecretCountsDto;
}

export class ListRevocationsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'date-time', description: 'Revocations made at or after this time' })
  @IsOptional()
  @IsTimestamp()
  since?: string;

  @ApiPropertyOptional({ enum: ['propagating', 'complete', 'failed'] })
  @IsOptional()
  @IsIn(['propagating', 'complete', 'failed'])
  status?: 'propagating' | 'complete' | 'failed';
}

export class RevocationListItemDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) revocationId!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) agentId!: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) ownerId!: string | null;
  @ApiProperty() reason!: string;
  @ApiProperty({ type: RevocationActorDto }) actor!: RevocationActorDto;
  @ApiProperty({ format: 'date-time' }) revokedAt!: string;
  @ApiProperty({ description: 'Credentials it revoked' }) credentialCount!: number;
  @ApiProperty({ enum: ['propagating', 'complete', 'failed'] }) status!: 'propagating' | 'complete' | 'failed';
}

export class RevocationPageDto extends PageResponseDto {
  @ApiProperty({ type: [RevocationListItemDto] }) items!: RevocationListItemDto[];
}
