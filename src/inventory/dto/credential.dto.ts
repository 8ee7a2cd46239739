import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsDefined,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

import { IsTimestamp } from '../../common/http/timestamp';
import { PageQueryDto, PageResponseDto } from '../../common/pagination/pagination';
import { SECRET_STORE_NAMES, type SecretStoreName } from '../../config/app-config';
import {
  CREDENTIAL_STATUSES,
  CREDENTIAL_TYPES,
  type CredentialStatus,
  type CredentialType,
  type Environment,
  ENVIRONMENTS,
} from '../entities/credential.entity';

export const MAX_SCOPES = 64;
export const MAX_ALLOWLIST = 100;

export class RateLimitDto {
  @ApiProperty({ minimum: 1, maximum: 100000, example: 100 })
  @IsInt()
  @Min(1)
  @Max(100000)
  requests!: number;

  @ApiProperty({ minimum: 1, maximum: 86400, example: 60 })
  @IsInt()
  @Min(1)
  @Max(86400)
  perSeconds!: number;
}

export class CreateCredentialDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  agentId!: string;

  @ApiProperty({ enum: CREDENTIAL_TYPES })
  @IsIn(CREDENTIAL_TYPES)
  type!: CredentialType;

  @ApiProperty({ enum: ENVIRONMENTS })
  @IsIn(ENVIRONMENTS)
  environment!: Environment;

  @ApiProperty({ type: [String], example: ['customers:read'], description: 'product:operation pairs; no wildcards' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_SCOPES)
  @IsString({ each: true })
  @MaxLength(128, { each: true })
  scopes!: string[];

  @ApiProperty({ type: RateLimitDto, description: 'Required: no unlimited quota' })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => RateLimitDto)
  rateLimit!: RateLimitDto;

  @ApiPropertyOptional({ type: [String], example: ['10.0.0.0/8', '2001:db8::/32'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_ALLOWLIST)
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  ipAllowlist?: string[];

  @ApiPropertyOptional({ enum: SECRET_STORE_NAMES, description: 'Default: SECRET_STORE_DEFAULT' })
  @IsOptional()
  @IsIn(SECRET_STORE_NAMES)
  secretStore?: SecretStoreName;

  @ApiPropertyOptional({ minimum: 1, maximum: 90, default: 90 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(90)
  rotationIntervalDays?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 168, default: 24 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(168)
  gracePeriodHours?: number;
}

export class UpdateCredentialDto {
  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_SCOPES)
  @IsString({ each: true })
  @MaxLength(128, { each: true })
  scopes?: string[];

  @ApiPropertyOptional({ type: RateLimitDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => RateLimitDto)
  rateLimit?: RateLimitDto;

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_ALLOWLIST)
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  ipAllowlist?: string[];

  @ApiPropertyOptional({ minimum: 1, maximum: 90 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(90)
  rotationIntervalDays?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 168 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(168)
  gracePeriodHours?: number;

  @ApiPropertyOptional({
    type: 'object',
    properties: { keys: { type: 'array', items: { type: 'object', additionalProperties: true } } },
    required: ['keys'],
    description:
      'oauth_client only: replaces the public JWK set used for private_key_jwt client authentication. Public ES256 (P-256), RS256/PS256 (RSA ≥ 2048 bits) or EdDSA (Ed25519) signing keys, 1 to 10',
  })
  @IsOptional()
  @IsObject()
  jwks?: { keys: Array<Record<string, unknown>> };
}

export class CredentialListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  agentId?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  ownerId?: string;

  @ApiPropertyOptional({ enum: CREDENTIAL_STATUSES })
  @IsOptional()
  @IsIn(CREDENTIAL_STATUSES)
  status?: CredentialStatus;

  @ApiPropertyOptional({ enum: ENVIRONMENTS })
  @IsOptional()
  @IsIn(ENVIRONMENTS)
  environment?: Environment;

  @ApiPropertyOptional({ format: 'date-time', description: 'Credentials whose nextRotationAt is before this time' })
  @IsOptional()
  @IsTimestamp()
  dueBefore?: string;

  @ApiPropertyOptional({
    enum: ['true', 'false'],
    description:
      "The admins' approvals queue: `true` lists credentials awaiting approval (status pending_approval) and active ones " +
      'carrying a pendingChange (a scope change that awaits approval); `false` lists those with neither',
  })
  @IsOptional()
  @IsIn(['true', 'false'])
  pendingApproval?: 'true' | 'false';
}

export class PendingChangeDto {
  @ApiPropertyOptional({ type: [String] }) scopes?: string[];
  @ApiPropertyOptional({ type: RateLimitDto }) rateLimit?: RateLimitDto;
  @ApiPropertyOptional({ type: [String] }) ipAllowlist?: string[];
  @ApiPropertyOptional() rotationIntervalDays?: number;
  @ApiPropertyOptional() gracePeriodHours?: number;
  @ApiProperty() requestedBy!: string;
  @ApiProperty({ format: 'date-time' }) requestedAt!: string;
  @ApiProperty({ enum: ['pending_approval'] }) status!: 'pending_approval';
}

export class CredentialDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() clientId!: string;
  @ApiProperty({ format: 'uuid' }) agentId!: string;
  @ApiProperty({ format: 'uuid' }) ownerId!: string;
  @ApiProperty({ enum: CREDENTIAL_TYPES }) type!: CredentialType;
  @ApiProperty({ enum: ENVIRONMENTS }) environment!: Environment;
  @ApiProperty({ type: [String] }) scopes!: string[];
  @ApiProperty({ type: RateLimitDto }) rateLimit!: RateLimitDto;
  @ApiProperty({ type: [String] }) ipAllowlist!: string[];
  @ApiProperty({ enum: SECRET_STORE_NAMES }) secretStore!: SecretStoreName;
  @ApiProperty({ type: String, nullable: true, description: 'Where the secret lives: Vault path, ARN or local:<id>' })
  secretRef!: string | null;
  @ApiProperty({ type: Number, nullable: true }) secretVersion!: number | null;
  @ApiProperty({ enum: CREDENTIAL_STATUSES }) status!: CredentialStatus;
  @ApiProperty() rotationIntervalDays!: number;
  @ApiProperty() gracePeriodHours!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastRotatedAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) nextRotationAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastUsedAt!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) revokedAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) revokedReason!: string | null;
  @ApiProperty({ description: 'Token id of the requester' }) requestedBy!: string;
  @ApiProperty({ type: String, nullable: true }) approvedBy!: string | null;
  @ApiProperty({ type: PendingChangeDto, nullable: true }) pendingChange!: PendingChangeDto | null;
  @ApiPropertyOptional({
    type: 'object',
    nullable: true,
    properties: { keys: { type: 'array', items: { type: 'object', additionalProperties: true } } },
    description: 'oauth_client: the public JWK set registered for private_key_jwt, or null',
  })
  jwks?: { keys: Array<Record<string, unknown>> } | null;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

export class IssuedCredentialDto {
  @ApiProperty({ type: CredentialDto }) credential!: CredentialDto;
  @ApiPropertyOptional({ description: 'The secret, in the 201 only; never again from this API' })
  secret?: string;
}

export class CredentialEnvelopeDto {
  @ApiProperty({ type: CredentialDto }) credential!: CredentialDto;
}

export class ClaimedSecretDto {
  @ApiProperty({ description: 'The secret of the current version; each version can be claimed once' })
  secret!: string;
  @ApiProperty() secretVersion!: number;
}

export class CredentialPageDto extends PageResponseDto {
  @ApiProperty({ type: [CredentialDto] }) items!: CredentialDto[];
}
