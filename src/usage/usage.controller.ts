import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiAcceptedResponse, ApiBearerAuth, ApiBody, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { UuidPipe } from '../common/http/uuid.pipe';
import {
  CredentialUsageDto,
  CredentialUsageQueryDto,
  IngestUsageAnswerDto,
  IngestUsageDto,
  UsageEventPageDto,
  UsageEventsQueryDto,
} from './dto/usage.dto';
import { UsageBatchBody, UsageBatchPipe } from './usage-batch.pipe';
import { UsageIngestionService } from './usage-ingestion.service';
import { HELD_UNTIL_USAGE_ROOM } from './usage-report-gate';
import { UsageViewService } from './usage-view.service';

@ApiTags('usage')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1')
export class UsageController {
  constructor(
    private readonly ingestion: UsageIngestionService,
    private readonly views: UsageViewService,
  ) {}

  @Post('usage')
  @RouteConfig(HELD_UNTIL_USAGE_ROOM)
  @HttpCode(202)
  @ApiOp('reportUsage', 'Report calls a gateway verified itself', {
    description:
      'Each event is validated on its own: a bad one is listed in `rejected` by its index, the others are counted like verify/authz calls.',
  })
  @ApiBody({ type: IngestUsageDto })
  @ApiProblems(400, 403, 413, 415)
  @Roles('gateway')
  @ApiAcceptedResponse({ type: IngestUsageAnswerDto })
  report(@Ctx() ctx: RequestContext, @Body(UsageBatchPipe) body: UsageBatchBody): Promise<IngestUsageAnswerDto> {
    return this.ingestion.ingest(ctx.actor, body.events);
  }

  @Get('usage/events')
  @ApiOp('listUsageEvents', 'List per-call usage records, newest first', {
    description: 'Kept USAGE_RETENTION_DAYS. An owner token sees its own credentials only.',
  })
  @ApiProblems(400, 403, 404)
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: UsageEventPageDto })
  events(@Ctx() ctx: RequestContext, @Query() query: UsageEventsQueryDto): Promise<UsageEventPageDto> {
    return this.views.events(ctx.actor, query);
  }

  @Get('credentials/:id/usage')
  @ApiOp('getCredentialUsage', "A credential's usage in hour or day buckets")
  @ApiProblems(400, 403, 404)
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: CredentialUsageDto })
  usage(
    @Ctx() ctx: RequestContext,
    @Param('id', UuidPipe) id: string,
    @Query() query: CredentialUsageQueryDto,
  ): Promise<CredentialUsageDto> {
    return this.views.credentialUsage(ctx.actor, id, query);
  }
}
