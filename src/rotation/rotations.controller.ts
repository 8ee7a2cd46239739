import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiOptionalBody, ApiProblems } from '../common/http/api-docs';
import { UuidPipe } from '../common/http/uuid.pipe';
import { PageQueryDto } from '../common/pagination/pagination';
import { RotateCredentialDto, RotationAcceptedDto, RotationDto, RotationListQueryDto, RotationPageDto } from './dto/rotation.dto';
import { RotationsService } from './rotations.service';

@ApiTags('rotation')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1')
export class RotationsController {
  constructor(private readonly rotations: RotationsService) {}

  @Post('credentials/:id/rotate')
  @ApiOptionalBody()
  @ApiOp('rotateCredential', "Rotate a credential's secret")
  @ApiProblems(
    400,
    403,
    404,
    { status: 409, description: 'The credential is revoked or not active, or a rotation of it is running' },
    413,
    415,
  )
  @Roles('admin', 'responder', 'owner')
  @HttpCode(202)
  @ApiAcceptedResponse({
    type: RotationAcceptedDto,
    description: 'Started (or a failed rotation of the credential resumed); a worker runs it',
  })
  async rotate(
    @Ctx() ctx: RequestContext,
    @Param('id', UuidPipe) id: string,
    @Body() body: RotateCredentialDto,
  ): Promise<RotationAcceptedDto> {
    const { rotationId } = await this.rotations.requestRotation(ctx, id, body ?? {});
    return { rotationId };
  }

  @Get('credentials/:id/rotations')
  @ApiOp('listCredentialRotations', 'List the rotations of a credential, newest first')
  @ApiProblems(400, 403, 404)
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: RotationPageDto, description: 'Rotation history, newest first, with the step reached and any error' })
  history(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string, @Query() query: PageQueryDto): Promise<RotationPageDto> {
    return this.rotations.history(ctx.actor, id, query);
  }

  @Get('rotations')
  @ApiOp('listRotations', 'List rotations, newest first (?status=failed: the dead letters)')
  @ApiProblems(400, 403)
  @Roles('admin', 'responder', 'auditor')
  @ApiOkResponse({ type: RotationPageDto, description: '`?status=failed`: the dead letters, waiting for a person' })
  list(@Query() query: RotationListQueryDto): Promise<RotationPageDto> {
    return this.rotations.list(query);
  }

  @Get('rotations/:id')
  @ApiOp('getRotation', 'Get a rotation')
  @ApiProblems(400, 403, 404)
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: RotationDto })
  get(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<RotationDto> {
    return this.rotations.get(ctx.actor, id);
  }

  @Post('rotations/:id/retry')
  @ApiOp('retryRotation', 'Resume a failed rotation from the step it reached')
  @ApiProblems(400, 403, 404, {
    status: 409,
    description: 'The rotation has not failed, another rotation of the credential is running, or the credential is revoked or not active',
  })
  @Roles('admin', 'responder')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: RotationDto, description: 'Running again from the step it reached' })
  retry(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<RotationDto> {
    return this.rotations.retry(ctx, id);
  }
}
