import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { UuidPipe } from '../common/http/uuid.pipe';
import { PageQueryDto } from '../common/pagination/pagination';
import type { RequestContext } from './actor';
import { Ctx, Roles } from './decorators';
import { CreatedTokenDto, CreateTokenDto, TokenPageDto } from './dto/token.dto';
import { TokensService } from './tokens.service';

@ApiTags('tokens')
@ApiBearerAuth()
@Controller('v1/tokens')
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  @Post()
  @Roles('admin')
  @ApiCreatedResponse({ type: CreatedTokenDto })
  create(@Ctx() ctx: RequestContext, @Body() body: CreateTokenDto): Promise<CreatedTokenDto> {
    return this.tokens.create(ctx, body);
  }

  @Get()
  @Roles('admin')
  @ApiOkResponse({ type: TokenPageDto })
  list(@Query() query: PageQueryDto): Promise<TokenPageDto> {
    return this.tokens.list(query);
  }

  @Delete(':id')
  @Roles('admin')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Revoked at once' })
  async revoke(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<void> {
    await this.tokens.revoke(ctx, id);
  }
}
