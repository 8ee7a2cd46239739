import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsString, Matches } from 'class-validator';

import { PageQueryDto, PageResponseDto } from '../../common/pagination/pagination';
import { type Operation, OPERATIONS } from '../entities/product.entity';
import { PRODUCT_NAME_PATTERN } from '../scope-policy';

export class CreateProductDto {
  @ApiProperty({ pattern: PRODUCT_NAME_PATTERN.source, example: 'customers' })
  @IsString()
  @Matches(PRODUCT_NAME_PATTERN, { message: 'must match ^[a-z][a-z0-9-]{1,62}$' })
  name!: string;

  @ApiProperty({ enum: OPERATIONS, isArray: true, example: ['read', 'write'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(OPERATIONS.length)
  @ArrayUnique({ message: 'must not repeat an operation' })
  @IsIn(OPERATIONS, { each: true, message: `each operation must be one of ${OPERATIONS.join(', ')}` })
  operations!: Operation[];
}

export class ProductListQueryDto extends PageQueryDto {}

export class ProductDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: OPERATIONS, isArray: true }) operations!: Operation[];
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class ProductPageDto extends PageResponseDto {
  @ApiProperty({ type: [ProductDto] }) items!: ProductDto[];
}
