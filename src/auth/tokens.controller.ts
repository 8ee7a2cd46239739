import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { UuidPipe } from '../common/http/uuid.pipe';
import { PageQueryDto } from '../common/pagination/pagination';
import type { RequestContext } from './actor';
import { Ctx, Roles } from './decorators';
import { CreatedTokenDto, CreateTokenDto, SelfTokenDto, TokenPageDto } from './dto/token.dto';
import { TokensService } from './tokens.service';

@ApiTags('tokens')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1/tokens')
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  @Post()
  @ApiOp('createToken', 'Create a bearer token (shown only in this answer)')
  @ApiProblems(400, 403, 413, 415)
  @Roles('admin')
  @ApiCreatedResponse({ type: CreatedTokenDto })
  create(@Ctx() ctx: RequestContext, @Body() body: CreateTokenDto): Promise<CreatedTokenDto> {
    return this.tokens.create(ctx, body);
  }

  @Get()
  @ApiOp('listTokens', 'List tokens, newest first')
  @ApiProblems(400, 403)
  @Roles('admin')
  @ApiOkResponse({ type: TokenPageDto })
  list(@Query() query: PageQueryDto): Promise<TokenPageDto> {
    return this.tokens.list(query);
  }

  @Get('self')
  @ApiOp('getOwnToken', 'The token this request presents: its id, name, role and owner (never the token)')
  @Roles('admin', 'owner', 'responder', 'auditor')
  @ApiOkResponse({ type: SelfTokenDto })
  self(@Ctx() ctx: RequestContext): Promise<SelfTokenDto> {
    return this.tokens.self(ctx.actor);
  }

  @Delete(':id')
  @ApiOp('revokeToken', 'Revoke a token at once')
  @ApiProblems(400, 403, 404)
  @Roles('admin')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Revoked at once' })
  async revoke(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<void> {
    await this.tokens.revoke(ctx, id);
  }
}
