import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { UuidPipe } from '../common/http/uuid.pipe';
import { PageQueryDto } from '../common/pagination/pagination';
import { RotateCredentialDto, RotationAcceptedDto, RotationDto, RotationListQueryDto, RotationPageDto } from './dto/rotation.dto';
import { RotationsService } from './rotations.service';

@ApiTags('rotation')
@ApiBearerAuth()
@Controller('v1')
export class RotationsController {
  constructor(private readonly rotations: RotationsService) {}

  @Post('credentials/:id/rotate')
  @Roles('admin', 'responder', 'owner')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: RotationAcceptedDto, description: 'Started (or a failed rotation of the credential resumed); a worker runs it' })
  async rotate(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string, @Body() body: RotateCredentialDto): Promise<RotationAcceptedDto> {
    const { rotationId } = await this.rotations.requestRotation(ctx, id, body ?? {});
    return { rotationId };
  }

  @Get('credentials/:id/rotations')
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: RotationPageDto, description: 'Rotation history, newest first, with the step reached and any error' })
  history(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string, @Query() query: PageQueryDto): Promise<RotationPageDto> {
    return this.rotations.history(ctx.actor, id, query);
  }

  @Get('rotations')
  @Roles('admin', 'responder', 'auditor')
  @ApiOkResponse({ type: RotationPageDto, description: '`?status=failed`: the dead letters, waiting for a person' })
  list(@Query() query: RotationListQueryDto): Promise<RotationPageDto> {
    return this.rotations.list(query);
  }

  @Get('rotations/:id')
  @Roles('admin', 'responder', 'auditor', 'owner')
  @ApiOkResponse({ type: RotationDto })
  get(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<RotationDto> {
    return this.rotations.get(ctx.actor, id);
  }

  @Post('rotations/:id/retry')
  @Roles('admin', 'responder')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: RotationDto, description: 'Running again from the step it reached' })
  retry(@Ctx() ctx: RequestContext, @Param('id', UuidPipe) id: string): Promise<RotationDto> {
    return this.rotations.retry(ctx, id);
  }
}
