import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';

import { FreeText, PresentedSecret } from '../../common/http/free-text';
import { LEAK_ACTIONS, type LeakAction } from '../../config/app-config';

export const REVOCABLE_TOKEN_TYPES = ['agk_live', 'agk_test'] as const;
export const VERSION_STATES = ['current', 'grace', 'pending', 'retired', 'revoked'] as const;
export type VersionState = (typeof VERSION_STATES)[number];
export const ACTIONS_TAKEN = ['revoked', 'rotated', 'none'] as const;
export type ActionTaken = (typeof ACTIONS_TAKEN)[number];

const MAX_SECRET = 1024;
const MAX_SOURCE = 200;
const MAX_URL = 2048;

/** `POST /v1/leaks`: exactly one of `secret` and `secretSha256`. */
export class ReportLeakDto {
  @ApiPropertyOptional({
    description: 'The leaked secret itself. Hashed on arrival; never stored, logged or audited. Give this or secretSha256.',
    maxLength: MAX_SECRET,
    example: 'agk_live_…',
  })
  @IsOptional()
  @IsString()
  @Length(1, MAX_SECRET)
  @PresentedSecret()
  secret?: string;

  @ApiPropertyOptional({
    description: 'The leaked secret\'s SHA-256, 64 lower-case hex characters (`printf %s "$KEY" | sha256sum`). Give this or secret.',
    pattern: '^[0-9a-f]{64}$',
  })
  @IsOptional()
  @Matches(/^[0-9a-f]{64}$/, { message: 'must be 64 lower-case hex characters (a SHA-256)' })
  secretSha256?: string;

  @ApiPropertyOptional({
    description: 'Where it was found (free text; secret-shaped values are redacted)',
    example: 'github',
    maxLength: MAX_SOURCE,
  })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_SOURCE)
  @FreeText()
  source?: string;

  @ApiPropertyOptional({ description: 'A link to where it was found (free text; secret-shaped values are redacted)', maxLength: MAX_URL })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_URL)
  @FreeText()
  url?: string;

  @ApiPropertyOptional({
    enum: LEAK_ACTIONS,
    default: 'revoke',
    description: 'What to do when the secret is a valid version of a credential',
  })
  @IsOptional()
  @IsIn(LEAK_ACTIONS)
  action?: LeakAction;
}

export class LeakReportAnswerDto {
  @ApiProperty({ description: 'Whether the secret is any version a credential ever had' }) matched!: boolean;
  @ApiProperty({ description: "The reported secret's SHA-256 (what the audit log records)" }) secretSha256!: string;
  @ApiPropertyOptional({ format: 'uuid' }) credentialId?: string;
  @ApiPropertyOptional({ type: 'integer', description: 'The version of the credential the secret is' }) version?: number;
  @ApiPropertyOptional({ description: "Whether it is the credential's current version" }) current?: boolean;
  @ApiPropertyOptional({
    enum: VERSION_STATES,
    description:
      'current; grace: the previous version, still accepted until its grace period ends; pending: the new version of an unfinished rotation; retired: past its grace period; revoked: of a revoked credential',
  })
  versionState?: VersionState;
  @ApiProperty({ enum: ACTIONS_TAKEN }) actionTaken!: ActionTaken;
  @ApiPropertyOptional({ format: 'uuid', description: 'GET /v1/revocations/:id follows its propagation' }) revocationId?: string;
  @ApiPropertyOptional({ format: 'uuid', description: 'GET /v1/rotations/:id follows it' }) rotationId?: string;
  @ApiPropertyOptional({ description: 'The alert raised for a retired or revoked key (once the alerts module exists)' }) alertId?: string;
}

/** One token of a GitHub secret scanning partner alert. */
export class GithubScanningTokenDto {
  @ApiProperty({ description: 'The token found', maxLength: MAX_SECRET })
  @IsString()
  @Length(1, MAX_SECRET)
  @PresentedSecret()
  token!: string;

  @ApiProperty({ description: 'The secret type registered with GitHub', maxLength: MAX_SOURCE })
  @IsString()
  @MaxLength(MAX_SOURCE)
  type!: string;

  @ApiPropertyOptional({ description: 'Where GitHub found it', maxLength: MAX_URL })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_URL)
  @FreeText()
  url?: string;

  @ApiPropertyOptional({ description: 'What GitHub scanned (content, commit, issue, ...)', maxLength: MAX_SOURCE })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_SOURCE)
  @FreeText()
  source?: string;
}

export class GithubTokenLabelDto {
  @ApiProperty({ description: 'SHA-256 (hex) of the token' }) token_hash!: string;
  @ApiProperty() token_type!: string;
  @ApiProperty({
    enum: ['true_positive', 'false_positive'],
    description: 'true_positive: a version of a credential that was still valid when reported; false_positive: anything else',
  })
  label!: 'true_positive' | 'false_positive';
}

/** One token of a GitLab token revocation request. */
export class GitlabRevokeTokenDto {
  @ApiProperty({ enum: REVOCABLE_TOKEN_TYPES })
  @IsIn(REVOCABLE_TOKEN_TYPES)
  type!: string;

  @ApiProperty({ description: 'The token found', maxLength: MAX_SECRET })
  @IsString()
  @Length(1, MAX_SECRET)
  @PresentedSecret()
  token!: string;

  @ApiPropertyOptional({ description: 'Where GitLab found it', maxLength: MAX_URL })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_URL)
  @FreeText()
  location?: string;
}

export class RevocableTokenTypesDto {
  @ApiProperty({ enum: REVOCABLE_TOKEN_TYPES, isArray: true }) types!: string[];
}
