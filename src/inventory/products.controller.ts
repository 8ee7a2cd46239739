import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { UuidPipe } from '../common/http/uuid.pipe';
import { CreateProductDto, ProductDto, ProductListQueryDto, ProductPageDto } from './dto/product.dto';
import { ProductsService } from './products.service';

@ApiTags('products')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1/products')
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  @Post()
  @ApiOp('createProduct', 'Create a product and the operations its scopes grant')
  @ApiProblems(400, 403, { status: 409, description: 'A product with this name exists' }, 413, 415)
  @Roles('admin')
  @ApiCreatedResponse({ type: ProductDto })
  create(@Ctx() ctx: RequestContext, @Body() body: CreateProductDto): Promise<ProductDto> {
    return this.products.create(ctx, body);
  }

  @Get()
  @ApiOp('listProducts', 'List products')
  @ApiProblems(400)
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: ProductPageDto })
  list(@Query() query: ProductListQueryDto): Promise<ProductPageDto> {
    return this.products.list(query);
  }

  @Get(':id')
  @ApiOp('getProduct', 'Get a product')
  @ApiProblems(400, 404)
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: ProductDto })
  get(@Param('id', UuidPipe) id: string): Promise<ProductDto> {
    return this.products.get(id);
  }
}
