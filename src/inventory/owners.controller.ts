import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { UuidPipe } from '../common/http/uuid.pipe';
import { CreateOwnerDto, OwnerDto, OwnerListQueryDto, OwnerPageDto, UpdateOwnerDto } from './dto/owner.dto';
import { OwnersService } from './owners.service';

@ApiTags('owners')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1/owners')
export class OwnersController {
  constructor(private readonly owners: OwnersService) {}

  @Post()
  @ApiOp('createOwner', 'Create an owner')
  @ApiProblems(400, 403, { status: 409, description: 'An owner with this email exists' }, 413, 415)
  @Roles('admin')
  @ApiCreatedResponse({ type: OwnerDto })
  create(@Ctx() ctx: RequestContext, @Body() body: CreateOwnerDto): Promise<OwnerDto> {
    return this.owners.create(ctx, body);
  }

  @Get()
  @ApiOp('listOwners', 'List owners')
  @ApiProblems(400)
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: OwnerPageDto, description: 'An owner token sees only its own owner' })
  list(@Ctx() ctx: RequestContext, @Query() query: OwnerListQueryDto): Promise<OwnerPageDto> {
    return this.owners.list(ctx.actor, query);
  }

  @Get(':id')
  @ApiOp('getOwner', 'Get an owner')
  @ApiProblems(400, 403, 404)
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: OwnerDto })
  get(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<OwnerDto> {
    return this.owners.get(ctx.actor, id);
  }

  @Patch(':id')
  @ApiOp('updateOwner', 'Change an owner')
  @ApiProblems(400, 403, 404, { status: 409, description: 'An owner with this email exists' }, 413, 415)
  @Roles('admin')
  @ApiOkResponse({ type: OwnerDto })
  update(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string, @Body() body: UpdateOwnerDto): Promise<OwnerDto> {
    return this.owners.update(ctx, id, body);
  }
}
