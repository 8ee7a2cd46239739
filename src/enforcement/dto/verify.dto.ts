import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches, ValidateBy, ValidationOptions } from 'class-validator';

import { PresentedSecret } from '../../common/http/free-text';
import { parseAddress } from '../enforced-credential';
import { SCOPE_PATTERN, VERIFY_CODES, type VerifyCode } from '../verification-codes';

/** An IPv4 (four-part decimal) or IPv6 address, without a prefix or zone. */
function IsClientAddress(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isClientAddress',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && parseAddress(value) !== null,
        defaultMessage: () => 'must be an IPv4 or IPv6 address such as 203.0.113.7 or 2001:db8::7',
      },
    },
    options,
  );
}

export class VerifyDto {
  @ApiProperty({
    description:
      'The key (or OAuth access token) the agent presented, exactly as sent. Never stored or logged; a value of any shape is an answer (MALFORMED), not an error.',
    example: 'agk_live_…',
  })
  @PresentedSecret()
  @IsString()
  key!: string;

  @ApiPropertyOptional({ description: 'The scope the call needs, `product:operation`', example: 'customers:read' })
  @IsOptional()
  @IsString()
  @Matches(SCOPE_PATTERN, { message: 'must be product:operation, such as customers:read' })
  scope?: string;

  @ApiPropertyOptional({ description: "The agent's address, checked against the credential's IP allowlist", example: '203.0.113.7' })
  @IsOptional()
  @IsClientAddress()
  ip?: string;

  @ApiPropertyOptional({
    enum: ['sandbox', 'production'],
    description: "Admins: the environment to check the credential against. A gateway token is checked against its gateway's environments.",
  })
  @IsOptional()
  @IsIn(['sandbox', 'production'])
  environment?: 'sandbox' | 'production';
}

export class VerifyRateLimitDto {
  @ApiProperty({ description: 'Calls allowed per window (the credential’s rateLimit.requests)' }) limit!: number;
  @ApiProperty({ description: 'Calls left in the current window after this one' }) remaining!: number;
  @ApiProperty({ format: 'date-time', description: 'When at least one more call fits again' }) resetAt!: string;
}

export class VerifyAnswerDto {
  @ApiProperty() valid!: boolean;
  @ApiProperty({ enum: VERIFY_CODES }) code!: VerifyCode;
  @ApiPropertyOptional({ format: 'uuid' }) credentialId?: string;
  @ApiPropertyOptional() clientId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) agentId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) ownerId?: string;
  @ApiPropertyOptional({ enum: ['sandbox', 'production'] }) environment?: 'sandbox' | 'production';
  @ApiPropertyOptional({ type: [String] }) scopes?: readonly string[];
  @ApiPropertyOptional({ description: 'The version of the credential the key is (absent for an access token)' }) version?: number;
  @ApiPropertyOptional({ description: 'true: a previous version in its grace period (still valid until graceEndsAt)' })
  deprecated?: boolean;
  @ApiPropertyOptional({ type: VerifyRateLimitDto }) rateLimit?: VerifyRateLimitDto;
}
