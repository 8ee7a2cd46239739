import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { UuidPipe } from '../common/http/uuid.pipe';
import { CredentialApprovalsService } from './credential-approvals.service';
import { CredentialsService } from './credentials.service';
import {
  ClaimedSecretDto,
  CreateCredentialDto,
  CredentialDto,
  CredentialEnvelopeDto,
  CredentialListQueryDto,
  CredentialPageDto,
  IssuedCredentialDto,
  UpdateCredentialDto,
} from './dto/credential.dto';

@ApiTags('credentials')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1/credentials')
export class CredentialsController {
  constructor(
    private readonly credentials: CredentialsService,
    private readonly approvals: CredentialApprovalsService,
  ) {}

  @Post()
  @ApiOp('createCredential', 'Issue a credential')
  @ApiProblems(400, 403, { status: 409, description: 'The agent is decommissioned' }, 413, 415)
  @Roles('admin', 'owner')
  @ApiCreatedResponse({ type: IssuedCredentialDto, description: 'Read/write scopes: active, with the secret shown once' })
  @ApiAcceptedResponse({ type: CredentialEnvelopeDto, description: 'A delete/admin scope: pending_approval, no secret yet' })
  async create(
    @Ctx() ctx: RequestContext,
    @Body() body: CreateCredentialDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<IssuedCredentialDto> {
    const issued = await this.credentials.create(ctx, body);
    void reply.status(issued.secret === undefined ? 202 : 201);
    return issued;
  }

  @Get()
  @ApiOp('listCredentials', 'List credentials, newest first')
  @ApiProblems(400, 403)
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: CredentialPageDto })
  list(@Ctx() ctx: RequestContext, @Query() query: CredentialListQueryDto): Promise<CredentialPageDto> {
    return this.credentials.list(ctx.actor, {
      ...query,
      dueBefore: query.dueBefore ? new Date(query.dueBefore) : undefined,
      pendingApproval: query.pendingApproval === undefined ? undefined : query.pendingApproval === 'true',
    });
  }

  @Get(':id')
  @ApiOp('getCredential', 'Get a credential (never its secret)')
  @ApiProblems(400, 403, 404)
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: CredentialDto })
  get(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<CredentialDto> {
    return this.credentials.get(ctx.actor, id);
  }

  @Patch(':id')
  @ApiOp('updateCredential', "Change a credential's scopes, rate limit, allowlist or rotation policy")
  @ApiProblems(400, 403, 404, { status: 409, description: 'The credential is not active, or a change of it awaits approval' }, 413, 415)
  @Roles('admin', 'owner')
  @ApiOkResponse({ type: CredentialDto, description: 'Applied' })
  @ApiAcceptedResponse({ type: CredentialDto, description: 'Adds a delete/admin scope: held in pendingChange until approved' })
  async update(
    @Ctx() ctx: RequestContext,
    @Param('id', UuidPipe) id: string,
    @Body() body: UpdateCredentialDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CredentialDto> {
    const result = await this.credentials.update(ctx, id, body);
    void reply.status(result.pending ? 202 : 200);
    return result.credential;
  }

  @Post(':id/approve')
  @ApiOp('approveCredential', 'Approve a pending credential or a pending change of one')
  @ApiProblems(400, 403, 404, { status: 409, description: 'Nothing of this credential awaits approval, or it is revoked' })
  @Roles('admin')
  @HttpCode(200)
  @ApiOkResponse({ type: CredentialDto })
  approve(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<CredentialDto> {
    return this.approvals.approve(ctx, id);
  }

  @Post(':id/reject')
  @ApiOp('rejectCredential', 'Reject a pending credential or a pending change of one')
  @ApiProblems(400, 403, 404, { status: 409, description: 'Nothing of this credential awaits approval, or it is revoked' })
  @Roles('admin')
  @HttpCode(200)
  @ApiOkResponse({ type: CredentialDto })
  reject(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<CredentialDto> {
    return this.approvals.reject(ctx, id);
  }

  @Post(':id/claim')
  @ApiOp('claimCredentialSecret', "Claim the secret of a credential's current version (the requester, once per version)")
  @ApiProblems(400, 403, 404, {
    status: 409,
    description: 'The secret of this version was claimed already, or the credential is not active',
  })
  @Roles('admin', 'owner')
  @HttpCode(200)
  @ApiOkResponse({ type: ClaimedSecretDto, description: 'Once per version, by the requester' })
  claim(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<ClaimedSecretDto> {
    return this.credentials.claim(ctx, id);
  }
}
