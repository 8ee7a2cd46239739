import { Body, Controller, Get, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { PageQueryDto } from '../common/pagination/pagination';
import { CampaignSchedulesService } from './campaign-schedules.service';
import { CreateScheduleDto, ScheduleDto, SchedulePageDto } from './dto/campaign.dto';

@ApiTags('reviews')
@ApiBearerAuth()
@Controller('v1/campaign-schedules')
export class CampaignSchedulesController {
  constructor(private readonly schedules: CampaignSchedulesService) {}

  @Post()
  @Roles('admin')
  @ApiCreatedResponse({ type: ScheduleDto, description: "The scheduler sweep opens each period's campaign, once" })
  create(@Ctx() ctx: RequestContext, @Body() body: CreateScheduleDto): Promise<ScheduleDto> {
    return this.schedules.create(ctx, { ...body, startsAt: body.startsAt ? new Date(body.startsAt) : undefined });
  }

  @Get()
  @Roles('admin', 'auditor')
  @ApiOkResponse({ type: SchedulePageDto })
  list(@Query() query: PageQueryDto): Promise<SchedulePageDto> {
    return this.schedules.list(query);
  }
}
