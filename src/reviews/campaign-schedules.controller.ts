import { Body, Controller, Get, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { PageQueryDto } from '../common/pagination/pagination';
import { CampaignSchedulesService } from './campaign-schedules.service';
import { CreateScheduleDto, ScheduleDto, SchedulePageDto } from './dto/campaign.dto';

@ApiTags('reviews')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1/campaign-schedules')
export class CampaignSchedulesController {
  constructor(private readonly schedules: CampaignSchedulesService) {}

  @Post()
  @ApiOp('createCampaignSchedule', 'Schedule a recurring access-review campaign')
  @ApiProblems(400, 403, 413, 415)
  @Roles('admin')
  @ApiCreatedResponse({ type: ScheduleDto, description: "The scheduler sweep opens each period's campaign, once" })
  create(@Ctx() ctx: RequestContext, @Body() body: CreateScheduleDto): Promise<ScheduleDto> {
    return this.schedules.create(ctx, { ...body, startsAt: body.startsAt ? new Date(body.startsAt) : undefined });
  }

  @Get()
  @ApiOp('listCampaignSchedules', 'List campaign schedules')
  @ApiProblems(400, 403)
  @Roles('admin', 'auditor')
  @ApiOkResponse({ type: SchedulePageDto })
  list(@Query() query: PageQueryDto): Promise<SchedulePageDto> {
    return this.schedules.list(query);
  }
}
