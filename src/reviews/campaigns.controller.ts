import { Body, Controller, Get, HttpCode, Param, Post, Query, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiJsonOrCsvOkResponse, ApiOp, ApiOptionalBody, ApiProblems } from '../common/http/api-docs';
import { UuidPipe } from '../common/http/uuid.pipe';
import { CampaignReportService } from './campaign-report.service';
import { CampaignsService } from './campaigns.service';
import { CampaignDto, CampaignListQueryDto, CampaignPageDto, CampaignProgressDto, OpenCampaignDto } from './dto/campaign.dto';
import { CampaignReportDto, ReportQueryDto } from './dto/report.dto';
import {
  BulkDecideDto,
  BulkDecisionResultDto,
  CreateSignoffDto,
  DecideDto,
  ItemListQueryDto,
  ItemPageDto,
  ReviewItemDto,
  SignoffDto,
} from './dto/review-item.dto';
import { ReviewDecisionsService } from './review-decisions.service';

@ApiTags('reviews')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1/campaigns')
export class CampaignsController {
  constructor(
    private readonly campaigns: CampaignsService,
    private readonly decisions: ReviewDecisionsService,
    private readonly reports: CampaignReportService,
  ) {}

  @Post()
  @ApiOp('openCampaign', 'Open an access-review campaign')
  @ApiProblems(400, 403, 413, 415)
  @Roles('admin')
  @ApiCreatedResponse({ type: CampaignDto, description: 'Open, with one item per active credential in scope' })
  open(@Ctx() ctx: RequestContext, @Body() body: OpenCampaignDto): Promise<CampaignDto> {
    return this.campaigns.open(ctx, body);
  }

  @Get()
  @ApiOp('listCampaigns', 'List campaigns, newest first')
  @ApiProblems(400)
  @Roles('admin', 'auditor', 'responder', 'owner')
  @ApiOkResponse({ type: CampaignPageDto, description: 'Newest first' })
  list(@Query() query: CampaignListQueryDto): Promise<CampaignPageDto> {
    return this.campaigns.list(query);
  }

  @Get(':id')
  @ApiOp('getCampaign', "Get a campaign's progress")
  @ApiProblems(400, 404)
  @Roles('admin', 'auditor', 'responder', 'owner')
  @ApiOkResponse({ type: CampaignProgressDto })
  get(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<CampaignProgressDto> {
    return this.campaigns.get(ctx.actor, id);
  }

  @Get(':id/items')
  @ApiOp('listCampaignItems', "List a campaign's review items")
  @ApiProblems(400, 403, 404)
  @Roles('admin', 'auditor', 'responder', 'owner')
  @ApiOkResponse({ type: ItemPageDto, description: 'An owner token sees only its own items' })
  items(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string, @Query() query: ItemListQueryDto): Promise<ItemPageDto> {
    return this.campaigns.items(ctx.actor, id, query);
  }

  @Post(':id/items/:itemId/decision')
  @ApiOp('decideReviewItem', 'Decide a review item (carried out at once)')
  @ApiProblems(
    400,
    403,
    404,
    { status: 409, description: 'The campaign is closed, the item is decided, or its credential was revoked or is not active' },
    413,
    415,
  )
  @Roles('admin', 'owner')
  @HttpCode(200)
  @ApiOkResponse({ type: ReviewItemDto, description: 'Decided and carried out' })
  decide(
    @Ctx() ctx: RequestContext,
    @Param('id', UuidPipe) id: string,
    @Param('itemId', UuidPipe) itemId: string,
    @Body() body: DecideDto,
  ): Promise<ReviewItemDto> {
    return this.decisions.decide(ctx, id, itemId, body);
  }

  @Post(':id/decisions')
  @ApiOp('decideReviewItems', 'Decide several review items at once, or accept the recommendations (all or nothing)')
  @ApiProblems(
    400,
    403,
    404,
    { status: 409, description: 'The campaign is closed, an item is decided, its credential is not active, or it has no recommendation' },
    413,
    415,
    { status: 422, description: 'acceptRecommendations would decide more items than one call may' },
  )
  @Roles('admin', 'owner')
  @HttpCode(200)
  @ApiOkResponse({ type: BulkDecisionResultDto, description: 'Every item decided and carried out, each audited as a single decision' })
  decideMany(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string, @Body() body: BulkDecideDto): Promise<BulkDecisionResultDto> {
    return this.decisions.decideMany(ctx, id, body);
  }

  @Post(':id/signoff')
  @ApiOptionalBody()
  @ApiOp('signOffCampaign', "Sign off the caller's decisions in a campaign")
  @ApiProblems(
    400,
    403,
    404,
    { status: 409, description: 'An item of the caller is pending, the caller has no items, or it signed off already' },
    413,
    415,
  )
  @Roles('owner')
  @ApiCreatedResponse({ type: SignoffDto })
  signOff(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string, @Body() body: CreateSignoffDto): Promise<SignoffDto> {
    return this.decisions.signOff(ctx, id, body.statement);
  }

  @Post(':id/close')
  @ApiOp('closeCampaign', 'Close a campaign; undecided items expire and get onExpiry')
  @ApiProblems(400, 403, 404, { status: 409, description: 'The campaign is closed already' })
  @Roles('admin')
  @HttpCode(200)
  @ApiOkResponse({ type: CampaignProgressDto, description: 'Closed; undecided items expired and got onExpiry' })
  close(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<CampaignProgressDto> {
    return this.campaigns.close(ctx, id, 'manual');
  }

  @Get(':id/report')
  @ApiOp('getCampaignReport', 'Get the report of a campaign, as JSON or CSV')
  @ApiProblems(400, 403, 404)
  @Roles('admin', 'auditor')
  @ApiProduces('application/json', 'text/csv')
  @ApiJsonOrCsvOkResponse(CampaignReportDto, 'JSON, or with ?format=csv one CSV row per item (streamed)')
  async report(@Param('id', UuidPipe) id: string, @Query() query: ReportQueryDto): Promise<StreamableFile> {
    const report = await this.reports.report(id, query.format ?? 'json');
    return new StreamableFile(report.body, {
      type: report.contentType,
      disposition: `${query.format === 'csv' ? 'attachment' : 'inline'}; filename="${report.fileName}"`,
    });
  }
}
