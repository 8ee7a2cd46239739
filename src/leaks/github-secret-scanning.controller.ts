import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiBody, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';

import { Public } from '../auth/decorators';
import { ApiOp, ApiProblems } from '../common/http/api-docs';
import { RAW_JSON_BODY } from '../common/http/json-body';
import { GithubScanningTokenDto, GithubTokenLabelDto } from './dto/leak.dto';
import { GithubSecretScanningService } from './github-secret-scanning.service';

@ApiTags('leaks')
@Controller('v1/leaks')
export class GithubSecretScanningController {
  constructor(private readonly github: GithubSecretScanningService) {}

  /** No bearer token: GitHub signs the raw body instead, so the route takes its bytes unparsed (RAW_JSON_BODY). */
  @Post('github')
  @Public()
  @RouteConfig(RAW_JSON_BODY)
  @ApiOp('reportGithubSecretScanningAlert', 'GitHub secret scanning partner alert (signed by GitHub)', {
    security: [{ githubSignature: [] }],
    description:
      'ECDSA P-256 SHA-256 signature over the raw body, base64 DER in `Github-Public-Key-Signature`, by the key named in `Github-Public-Key-Identifier` (from GITHUB_SECRET_SCANNING_KEYS_FILE). Valid versions are handled with LEAK_ACTION.',
  })
  @ApiBody({ type: [GithubScanningTokenDto] })
  @ApiProblems(
    400,
    { status: 401, description: 'The signature is missing, does not verify, or names a key GitHub does not publish; nothing was done' },
    { status: 404, description: 'GITHUB_SECRET_SCANNING_KEYS_FILE is not set: the endpoint is off' },
    413,
    415,
    503,
  )
  @HttpCode(200)
  @ApiOkResponse({ type: [GithubTokenLabelDto] })
  report(@Req() request: FastifyRequest): Promise<GithubTokenLabelDto[]> {
    const header = (name: string) => {
      const value = request.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    return this.github.handle({
      body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
      keyIdentifier: header('github-public-key-identifier'),
      signature: header('github-public-key-signature'),
      requestId: String(request.id),
    });
  }
}
