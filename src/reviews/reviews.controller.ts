import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { PageQueryDto } from '../common/pagination/pagination';
import { CampaignsService } from './campaigns.service';
import { MyReviewPageDto } from './dto/review-item.dto';

@ApiTags('reviews')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1/reviews')
export class ReviewsController {
  constructor(private readonly campaigns: CampaignsService) {}

  @Get('mine')
  @ApiOp('listMyReviews', "List the caller's pending review items")
  @ApiProblems(400, 403)
  @Roles('owner')
  @ApiOkResponse({ type: MyReviewPageDto, description: "The caller's pending items, with what is needed to decide each" })
  mine(@Ctx() ctx: RequestContext, @Query() query: PageQueryDto): Promise<MyReviewPageDto> {
    return this.campaigns.mine(ctx.actor, query);
  }
}
