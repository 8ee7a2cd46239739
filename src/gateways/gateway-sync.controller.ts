import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { UuidPipe } from '../common/http/uuid.pipe';
import { EventsQueryDto, GatewayEventPageDto, SnapshotPageDto, SnapshotQueryDto } from './dto/gateway-sync.dto';
import { GatewaySyncService } from './gateway-sync.service';

/** Snapshot and replay for a gateway that is new or lost its state (docs/gateway-sync.md). */
@ApiTags('gateways')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1/gateways')
export class GatewaySyncController {
  constructor(private readonly sync: GatewaySyncService) {}

  @Get(':id/credentials')
  @ApiOp('getGatewaySnapshot', 'Snapshot of every credential the gateway must accept, with each valid version’s SHA-256')
  @ApiProblems(400, 403, 404)
  @Roles('admin', 'gateway')
  @ApiOkResponse({ type: SnapshotPageDto })
  snapshot(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string, @Query() query: SnapshotQueryDto): Promise<SnapshotPageDto> {
    return this.sync.snapshot(ctx.actor, id, query);
  }

  @Get(':id/events')
  @ApiOp('listGatewayEvents', 'The events the gateway receives as webhooks, in order, after an event cursor')
  @ApiProblems(400, 403, 404)
  @Roles('admin', 'gateway')
  @ApiOkResponse({ type: GatewayEventPageDto })
  events(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string, @Query() query: EventsQueryDto): Promise<GatewayEventPageDto> {
    return this.sync.events(ctx.actor, id, query);
  }
}
