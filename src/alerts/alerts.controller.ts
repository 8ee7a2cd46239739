import { Body, Controller, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { UuidPipe } from '../common/http/uuid.pipe';
import { ALERT_TYPES } from './alert-types';
import { AlertsService } from './alerts.service';
import {
  AlertDto,
  AlertListQueryDto,
  AlertPageDto,
  AlertPolicyDto,
  AlertPolicyListDto,
  AlertPolicyTypeParamDto,
  PutAlertPolicyDto,
  ResolveAlertDto,
} from './dto/alerts.dto';

@ApiTags('alerts')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1')
export class AlertsController {
  constructor(private readonly alerts: AlertsService) {}

  @Get('alerts')
  @ApiOp('listAlerts', 'List anomaly alerts, newest first (an owner: its own credentials’ only)')
  @ApiProblems(400, 403)
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: AlertPageDto })
  list(@Ctx() ctx: RequestContext, @Query() query: AlertListQueryDto): Promise<AlertPageDto> {
    return this.alerts.list(ctx.actor, query);
  }

  @Get('alerts/:id')
  @ApiOp('getAlert', 'Get an alert')
  @ApiProblems(400, 403, { status: 404, description: 'No such alert, or (an owner) another owner’s' })
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: AlertDto })
  get(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<AlertDto> {
    return this.alerts.get(ctx.actor, id);
  }

  @Post('alerts/:id/acknowledge')
  @ApiOp('acknowledgeAlert', 'Acknowledge an alert: someone is on it (repeats keep counting into it)')
  @ApiProblems(400, 403, 404, { status: 409, description: 'The alert is resolved' })
  @Roles('admin', 'responder')
  @HttpCode(200)
  @ApiOkResponse({ type: AlertDto })
  acknowledge(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<AlertDto> {
    return this.alerts.acknowledge(ctx, id);
  }

  @Post('alerts/:id/resolve')
  @ApiOp('resolveAlert', 'Resolve an alert with a note (a later sighting opens a new alert)')
  @ApiProblems(400, 403, 404, 413, 415)
  @Roles('admin', 'responder')
  @HttpCode(200)
  @ApiOkResponse({ type: AlertDto })
  resolve(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string, @Body() body: ResolveAlertDto): Promise<AlertDto> {
    return this.alerts.resolve(ctx, id, body.note);
  }

  @Get('alert-policies')
  @ApiOp('listAlertPolicies', 'The action each alert type carries out when raised (every type; `none` unless set)')
  @ApiProblems(403)
  @Roles('admin', 'responder', 'auditor')
  @ApiOkResponse({ type: AlertPolicyListDto })
  async policies(): Promise<AlertPolicyListDto> {
    return { items: await this.alerts.policies() };
  }

  @Put('alert-policies/:type')
  @ApiOp('putAlertPolicy', 'Set what a new alert of this type does: none, an immediate rotation, or a revocation (by the system)')
  @ApiParam({ name: 'type', enum: ALERT_TYPES })
  @ApiProblems(400, 403, { status: 404, description: 'No such alert type' }, 413, 415)
  @Roles('admin')
  @ApiOkResponse({ type: AlertPolicyDto })
  putPolicy(
    @Ctx() ctx: RequestContext,
    @Param() params: AlertPolicyTypeParamDto,
    @Body() body: PutAlertPolicyDto,
  ): Promise<AlertPolicyDto> {
    return this.alerts.putPolicy(ctx, params.type, body.action);
  }
}
