import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { UuidPipe } from '../common/http/uuid.pipe';
import { DeliveriesService } from './deliveries.service';
import { DeliveryDto, DeliveryListQueryDto, DeliveryPageDto } from './dto/gateway.dto';

@ApiTags('gateways')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1/deliveries')
export class DeliveriesController {
  constructor(private readonly deliveries: DeliveriesService) {}

  @Get()
  @ApiOp('listDeliveries', 'List webhook deliveries to every gateway, newest first')
  @ApiProblems(400, 403)
  @Roles('admin', 'responder', 'auditor')
  @ApiOkResponse({ type: DeliveryPageDto, description: 'Every delivery, newest first; ?status=failed lists those that gave up' })
  list(@Query() query: DeliveryListQueryDto): Promise<DeliveryPageDto> {
    return this.deliveries.list(query);
  }

  @Post(':id/retry')
  @ApiOp('retryDelivery', 'Retry a failed delivery')
  @ApiProblems(400, 403, 404, {
    status: 409,
    description: 'The delivery has not failed, its gateway is disabled, or a later event superseded it',
  })
  @Roles('admin')
  @HttpCode(200)
  @ApiOkResponse({ type: DeliveryDto, description: 'A failed delivery starts over with a fresh retry schedule' })
  retry(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<DeliveryDto> {
    return this.deliveries.retry(ctx, id);
  }
}
