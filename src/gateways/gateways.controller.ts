import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { UuidPipe } from '../common/http/uuid.pipe';
import { PageQueryDto } from '../common/pagination/pagination';
import { DeliveriesService } from './deliveries.service';
import {
  CreatedGatewayDto,
  CreateGatewayDto,
  DeliveryListQueryDto,
  DeliveryPageDto,
  GatewayDto,
  GatewayPageDto,
  RotatedSigningSecretDto,
  UpdateGatewayDto,
} from './dto/gateway.dto';
import { GatewaysService } from './gateways.service';

@ApiTags('gateways')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1/gateways')
export class GatewaysController {
  constructor(
    private readonly gateways: GatewaysService,
    private readonly deliveries: DeliveriesService,
  ) {}

  @Post()
  @ApiOp('createGateway', 'Register a gateway (its signing secret is shown only in this answer)')
  @ApiProblems(400, 403, { status: 409, description: 'A gateway with this name exists' }, 413, 415)
  @Roles('admin')
  @ApiCreatedResponse({ type: CreatedGatewayDto, description: 'The signing secret is shown only here' })
  create(@Ctx() ctx: RequestContext, @Body() body: CreateGatewayDto): Promise<CreatedGatewayDto> {
    return this.gateways.create(ctx, body);
  }

  @Get()
  @ApiOp('listGateways', 'List gateways')
  @ApiProblems(400, 403)
  @Roles('admin', 'responder', 'auditor')
  @ApiOkResponse({ type: GatewayPageDto })
  list(@Query() query: PageQueryDto): Promise<GatewayPageDto> {
    return this.gateways.list(query);
  }

  @Get(':id')
  @ApiOp('getGateway', 'Get a gateway')
  @ApiProblems(400, 403, 404)
  @Roles('admin', 'responder', 'auditor')
  @ApiOkResponse({ type: GatewayDto })
  get(@Param('id', UuidPipe) id: string): Promise<GatewayDto> {
    return this.gateways.get(id);
  }

  @Patch(':id')
  @ApiOp('updateGateway', 'Change how a gateway receives events (batchEvents)')
  @ApiProblems(400, 403, 404, 413, 415)
  @Roles('admin')
  @ApiOkResponse({ type: GatewayDto })
  update(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string, @Body() body: UpdateGatewayDto): Promise<GatewayDto> {
    return this.gateways.update(ctx, id, body);
  }

  @Post(':id/rotate-signing-secret')
  @ApiOp('rotateGatewaySigningSecret', "Rotate a gateway's signing secret")
  @ApiProblems(400, 403, 404)
  @Roles('admin')
  @HttpCode(200)
  @ApiOkResponse({ type: RotatedSigningSecretDto, description: 'Both keys sign for 24 hours' })
  rotateSigningSecret(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<RotatedSigningSecretDto> {
    return this.gateways.rotateSigningSecret(ctx, id);
  }

  @Post(':id/enable')
  @ApiOp('enableGateway', 'Re-enable a disabled gateway')
  @ApiProblems(400, 403, 404)
  @Roles('admin')
  @HttpCode(200)
  @ApiOkResponse({ type: GatewayDto, description: 'Re-enables a gateway disabled by a 410 answer' })
  enable(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<GatewayDto> {
    return this.gateways.enable(ctx, id);
  }

  @Get(':id/deliveries')
  @ApiOp('listGatewayDeliveries', 'List the deliveries to one gateway, newest first')
  @ApiProblems(400, 403, 404)
  @Roles('admin', 'responder', 'auditor')
  @ApiOkResponse({ type: DeliveryPageDto })
  deliveriesOf(@Param('id', UuidPipe) id: string, @Query() query: DeliveryListQueryDto): Promise<DeliveryPageDto> {
    return this.deliveries.listForGateway(id, query);
  }
}
