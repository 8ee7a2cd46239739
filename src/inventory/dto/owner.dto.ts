import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { IsEmail, IsIn, IsNotEmpty, IsString, MaxLength } from 'class-validator';

import { FreeText } from '../../common/http/free-text';
import { PageQueryDto, PageResponseDto } from '../../common/pagination/pagination';
import { OWNER_KINDS, type OwnerKind } from '../entities/owner.entity';

export class CreateOwnerDto {
  @ApiProperty({ maxLength: 200, example: 'Payments team' })
  @FreeText()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @ApiProperty({ example: 'payments@example.com' })
  @FreeText()
  @IsEmail()
  @MaxLength(320)
  email!: string;

  @ApiProperty({ enum: OWNER_KINDS })
  @IsIn(OWNER_KINDS)
  kind!: OwnerKind;
}

export class UpdateOwnerDto extends PartialType(CreateOwnerDto) {}

export class OwnerListQueryDto extends PageQueryDto {}

export class OwnerDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() email!: string;
  @ApiProperty({ enum: OWNER_KINDS }) kind!: OwnerKind;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiPropertyOptional({ format: 'date-time' }) updatedAt!: string;
}

export class OwnerPageDto extends PageResponseDto {
  @ApiProperty({ type: [OwnerDto] }) items!: OwnerDto[];
}
