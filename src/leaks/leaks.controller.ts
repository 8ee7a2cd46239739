import { createHash } from 'node:crypto';

import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { InvalidInputError } from '../common/errors/domain-error';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { LeakReportAnswerDto, ReportLeakDto } from './dto/leak.dto';
import { LeaksService } from './leaks.service';

@ApiTags('leaks')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1')
export class LeaksController {
  constructor(private readonly leaks: LeaksService) {}

  @Post('leaks')
  @ApiOp('reportLeak', 'Report a leaked secret: revoke or rotate the credential it belongs to')
  @ApiProblems(400, 403, 413, 415, {
    status: 409,
    description:
      'action rotate, and the credential cannot be rotated now (a rotation of it is running, it is not active, or the secret is the pending version of that rotation); nothing was changed',
  })
  @Roles('admin', 'responder')
  @HttpCode(200)
  @ApiOkResponse({ type: LeakReportAnswerDto })
  report(@Ctx() ctx: RequestContext, @Body() body: ReportLeakDto): Promise<LeakReportAnswerDto> {
    if (body.secret !== undefined && body.secretSha256 !== undefined) {
      throw InvalidInputError.field('secretSha256', 'must not be given together with secret: give one of them');
    }
    if (body.secret === undefined && body.secretSha256 === undefined) {
      throw InvalidInputError.field('secret', 'or secretSha256 is required');
    }
    // The secret goes no further than this line: the use case, the audit log and the answer see only its hash.
    const secretSha256 = body.secretSha256 ?? createHash('sha256').update(body.secret!, 'utf8').digest('hex');
    return this.leaks.report(ctx, {
      secretSha256,
      source: body.source ?? null,
      url: body.url ?? null,
      action: body.action ?? 'revoke',
    });
  }
}
