import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { UuidPipe } from '../common/http/uuid.pipe';
import { CreateProductDto, ProductDto, ProductListQueryDto, ProductPageDto } from './dto/product.dto';
import { ProductsService } from './products.service';

@ApiTags('products')
@ApiBearerAuth()
@Controller('v1/products')
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  @Post()
  @Roles('admin')
  @ApiCreatedResponse({ type: ProductDto })
  create(@Ctx() ctx: RequestContext, @Body() body: CreateProductDto): Promise<ProductDto> {
    return this.products.create(ctx, body);
  }

  @Get()
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: ProductPageDto })
  list(@Query() query: ProductListQueryDto): Promise<ProductPageDto> {
    return this.products.list(query);
  }

  @Get(':id')
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: ProductDto })
  get(@Param('id', UuidPipe) id: string): Promise<ProductDto> {
    return this.products.get(id);
  }
}
