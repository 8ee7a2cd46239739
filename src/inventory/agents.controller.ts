import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { UuidPipe } from '../common/http/uuid.pipe';
import { AgentsService } from './agents.service';
import { AgentDto, AgentListQueryDto, AgentPageDto, CreateAgentDto, UpdateAgentDto } from './dto/agent.dto';

@ApiTags('agents')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1/agents')
export class AgentsController {
  constructor(private readonly agents: AgentsService) {}

  @Post()
  @ApiOp('createAgent', 'Create an agent')
  @ApiProblems(400, 403, { status: 409, description: 'The owner already has an agent with this name' }, 413, 415)
  @Roles('admin', 'owner')
  @ApiCreatedResponse({ type: AgentDto, description: 'An owner token may create agents for its own owner only' })
  create(@Ctx() ctx: RequestContext, @Body() body: CreateAgentDto): Promise<AgentDto> {
    return this.agents.create(ctx, body);
  }

  @Get()
  @ApiOp('listAgents', 'List agents')
  @ApiProblems(400, 403)
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: AgentPageDto })
  list(@Ctx() ctx: RequestContext, @Query() query: AgentListQueryDto): Promise<AgentPageDto> {
    return this.agents.list(ctx.actor, query);
  }

  @Get(':id')
  @ApiOp('getAgent', 'Get an agent')
  @ApiProblems(400, 403, 404)
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: AgentDto })
  get(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<AgentDto> {
    return this.agents.get(ctx.actor, id);
  }

  @Patch(':id')
  @ApiOp('updateAgent', 'Change an agent')
  @ApiProblems(
    400,
    403,
    404,
    { status: 409, description: 'The agent is decommissioned, or its owner has another agent with this name' },
    413,
    415,
  )
  @Roles('admin', 'owner')
  @ApiOkResponse({ type: AgentDto })
  update(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string, @Body() body: UpdateAgentDto): Promise<AgentDto> {
    return this.agents.update(ctx, id, body);
  }
}
