import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { UuidPipe } from '../common/http/uuid.pipe';
import { RevocationDto, RevokeAnswerDto, RevokeDto, WaitQueryDto } from './dto/revocation.dto';
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

  @Get('revocations/:id')
  @ApiOp('getRevocation', 'Get a revocation and its propagation to the gateways')
  @ApiProblems(400, 403, 404)
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: RevocationDto })
  get(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string, @Query() query: WaitQueryDto): Promise<RevocationDto> {
    return this.revocations.get(ctx.actor, id, query.waitSeconds ?? 0);
  }
}

function answer(outcome: RevokeOutcome, reply: FastifyReply): RevokeAnswerDto {
  void reply.status(outcome.created ? 202 : 200);
  return { ...outcome.revocation, reasonContainedSecret: outcome.reasonContainedSecret };
}
