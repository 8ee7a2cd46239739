import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { UuidPipe } from '../common/http/uuid.pipe';
import { AgentsService } from './agents.service';
import { AgentDto, AgentListQueryDto, AgentPageDto, CreateAgentDto, UpdateAgentDto } from './dto/agent.dto';

@ApiTags('agents')
@ApiBearerAuth()
@Controller('v1/agents')
export class AgentsController {
  constructor(private readonly agents: AgentsService) {}

  @Post()
  @Roles('admin', 'owner')
  @ApiCreatedResponse({ type: AgentDto, description: 'An owner token may create agents for its own owner only' })
  create(@Ctx() ctx: RequestContext, @Body() body: CreateAgentDto): Promise<AgentDto> {
    return this.agents.create(ctx, body);
  }

  @Get()
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: AgentPageDto })
  list(@Ctx() ctx: RequestContext, @Query() query: AgentListQueryDto): Promise<AgentPageDto> {
    return this.agents.list(ctx.actor, query);
  }

  @Get(':id')
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: AgentDto })
  get(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<AgentDto> {
    return this.agents.get(ctx.actor, id);
  }

  @Patch(':id')
  @Roles('admin', 'owner')
  @ApiOkResponse({ type: AgentDto })
  update(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string, @Body() body: UpdateAgentDto): Promise<AgentDto> {
    return this.agents.update(ctx, id, body);
  }
}
