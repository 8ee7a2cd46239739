import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';

import { type Role, ROLES } from '../../auth/actor';
import { PresentedSecret } from '../../common/http/free-text';

export class SignInDto {
  @ApiProperty({ description: 'An API token (POST /v1/tokens, or ADMIN_TOKEN); never stored', maxLength: 512 })
  @PresentedSecret()
  @IsString()
  @IsNotEmpty()
  @MaxLength(512)
  token!: string;
}

export class ConsoleSessionDto {
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) ownerId!: string | null;
  @ApiProperty({ description: "The API token's name" }) tokenName!: string;
  @ApiProperty({ description: "The API token's id (bootstrap-admin for ADMIN_TOKEN)" }) tokenId!: string;
  @ApiProperty({ description: 'Send as X-CSRF-Token on every state-changing request the session makes' }) csrfToken!: string;
  @ApiProperty({ format: 'date-time' }) expiresAt!: string;
}
