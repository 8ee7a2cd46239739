import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsNotEmpty, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';

import { FreeText } from '../../common/http/free-text';
import { PageResponseDto } from '../../common/pagination/pagination';
import { type Role, ROLES } from '../actor';

export class CreateTokenDto {
  @ApiProperty({ maxLength: 200, example: 'ci-pipeline' })
  @FreeText()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES)
  role!: Role;

  @ApiPropertyOptional({ format: 'uuid', description: 'Required for role owner, refused otherwise' })
  @IsOptional()
  @IsUUID()
  ownerId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Required for role gateway, refused otherwise' })
  @IsOptional()
  @IsUUID()
  gatewayId?: string;
}

export class TokenDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) ownerId!: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) gatewayId!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) revokedAt!: string | null;
}

export class CreatedTokenDto extends TokenDto {
  @ApiProperty({ description: 'The bearer token. Shown only in this response.' })
  token!: string;
}

export class TokenPageDto extends PageResponseDto {
  @ApiProperty({ type: [TokenDto] }) items!: TokenDto[];
}

export class SelfTokenDto {
  @ApiProperty({ description: "The token's id (`bootstrap-admin` for ADMIN_TOKEN)" }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) ownerId!: string | null;
}
