import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiExtraModels, ApiOkResponse, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { UuidPipe } from '../common/http/uuid.pipe';
import {
  BulkDryRunDto,
  BulkRevokeAnswerDto,
  BulkRevokeDto,
  GetRevocationQueryDto,
  ListRevocationsQueryDto,
  RevocationDto,
  RevocationPageDto,
  RevokeAnswerDto,
  RevokeDto,
} from './dto/revocation.dto';
import { RevocationService, RevokeOutcome } from './revocation.service';

@ApiTags('revocation')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1')
export class RevocationController {
  constructor(private readonly revocations: RevocationService) {}

  @Post('credentials/:id/revoke')
  @ApiOp('revokeCredential', 'Revoke a credential')
  @ApiProblems(400, 403, 404, 413, 415)
  @Roles('admin', 'responder', 'owner')
  @ApiAcceptedResponse({ type: RevokeAnswerDto, description: 'Revoked now; gateways are being told' })
  @ApiOkResponse({ type: RevokeAnswerDto, description: 'Already revoked: the same revocation' })
  async revokeCredential(
    @Ctx() ctx: RequestContext,
    @Param('id', UuidPipe) id: string,
    @Body() body: RevokeDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RevokeAnswerDto> {
    return answer(await this.revocations.revokeCredential(ctx, id, body.reason), reply);
  }

  @Post('agents/:id/revoke')
  @ApiOp('revokeAgent', 'Revoke every credential of an agent and decommission it')
  @ApiProblems(400, 403, 404, 413, 415)
  @Roles('admin', 'responder', 'owner')
  @ApiAcceptedResponse({ type: RevokeAnswerDto, description: 'Every credential of the agent revoked; the agent is decommissioned' })
  @ApiOkResponse({ type: RevokeAnswerDto, description: 'Already revoked: the same revocation' })
  async revokeAgent(
    @Ctx() ctx: RequestContext,
    @Param('id', UuidPipe) id: string,
    @Body() body: RevokeDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RevokeAnswerDto> {
    return answer(await this.revocations.revokeAgent(ctx, id, body.reason), reply);
  }

  @Post('revocations')
  @ApiOp('revokeMatching', 'Revoke every active or pending credential a filter matches, as one revocation (or count them: dryRun)')
  @ApiProblems(400, { status: 404, description: 'No active or pending credential matches the filter; nothing was revoked' }, 413, 415, {
    status: 422,
    description: 'The filter matches more than 100,000 credentials (the count is in the detail); nothing was revoked',
  })
  @Roles('admin', 'responder')
  @ApiExtraModels(BulkDryRunDto)
  @ApiAcceptedResponse({ type: BulkRevokeAnswerDto, description: 'Every match revoked now, in one revocation; gateways are being told' })
  @ApiOkResponse({
    schema: { $ref: getSchemaPath(BulkDryRunDto) },
    description: 'dryRun: how many match, and the first 20 by id; nothing changed',
  })
  async revokeMatching(
    @Ctx() ctx: RequestContext,
    @Body() body: BulkRevokeDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<BulkRevokeAnswerDto | BulkDryRunDto> {
    if (body.dryRun) {
      void reply.status(200);
      return this.revocations.previewMatching(body.filter);
    }
    const outcome = await this.revocations.revokeMatching(ctx, { reason: body.reason, filter: body.filter });
    return { ...answer(outcome, reply), count: outcome.count };
  }

  @Get('revocations')
  @ApiOp('listRevocations', 'List revocations, newest first')
  @ApiProblems(400, 403)
  @Roles('admin', 'responder', 'auditor')
  @ApiOkResponse({ type: RevocationPageDto })
  list(@Query() query: ListRevocationsQueryDto): Promise<RevocationPageDto> {
    return this.revocations.list(query);
  }

  @Get('revocations/:id')
  @ApiOp('getRevocation', 'Get a revocation and its propagation to the gateways')
  @ApiProblems(400, 403, 404)
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: RevocationDto })
  get(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string, @Query() query: GetRevocationQueryDto): Promise<RevocationDto> {
    return this.revocations.get(ctx.actor, id, query.waitSeconds ?? 0, query.view ?? 'full');
  }
}

function answer(outcome: RevokeOutcome, reply: FastifyReply): RevokeAnswerDto {
  void reply.status(outcome.created ? 202 : 200);
  return { ...outcome.revocation, reasonContainedSecret: outcome.reasonContainedSecret };
}
