import { createHash } from 'node:crypto';

import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import type { RequestContext } from '../auth/actor';
import { Ctx, Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { ArrayBodyPipe } from '../common/http/validation';
import { GitlabRevokeTokenDto, REVOCABLE_TOKEN_TYPES, RevocableTokenTypesDto } from './dto/leak.dto';
import { LeaksService } from './leaks.service';

/** Tokens one GitLab request may carry. */
const MAX_GITLAB_TOKENS = 1000;
/**
 * What GitLab's secret detection sends beside type, token and location: the
 * finding's vulnerability record (or null), which nothing here reads, and a
 * null location when it has no link. Both are left out before validation.
 */
function fromGitlab(item: Record<string, unknown>): Record<string, unknown> {
  const prepared = { ...item };
  delete prepared.vulnerability;
  if (prepared.location === null) delete prepared.location;
  return prepared;
}

/** GitLab's token revocation API: GitLab's secret detection lists the types, then posts the tokens it found. */
@ApiTags('leaks')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1')
export class GitlabTokenRevocationController {
  constructor(private readonly leaks: LeaksService) {}

  @Get('revocable_token_types')
  @ApiOp('listRevocableTokenTypes', 'GitLab token revocation: the token types this service revokes')
  @ApiProblems(403)
  @Roles('admin', 'responder')
  @ApiOkResponse({ type: RevocableTokenTypesDto })
  types(): RevocableTokenTypesDto {
    return { types: [...REVOCABLE_TOKEN_TYPES] };
  }

  @Post('revoke_tokens')
  @ApiOp('revokeTokens', 'GitLab token revocation: revoke the credentials of leaked tokens')
  @ApiBody({ type: [GitlabRevokeTokenDto] })
  @ApiProblems(400, 403, 413, 415)
  @Roles('admin', 'responder')
  @HttpCode(204)
  @ApiNoContentResponse({
    description: 'Each token that is a valid version of a credential revoked it; every token audited as leak.reported',
  })
  async revoke(
    @Ctx() ctx: RequestContext,
    @Body(new ArrayBodyPipe(GitlabRevokeTokenDto, MAX_GITLAB_TOKENS, fromGitlab)) tokens: GitlabRevokeTokenDto[],
  ): Promise<void> {
    for (const item of tokens) {
      await this.leaks.report(ctx, {
        secretSha256: createHash('sha256').update(item.token, 'utf8').digest('hex'),
        source: `gitlab ${item.type}`,
        url: item.location ?? null,
        action: 'revoke',
      });
    }
  }
}
