import { createHash } from 'node:crypto';

import { Injectable } from '@nestjs/common';

import { systemContext } from '../auth/actor';
import { InvalidInputError } from '../common/errors/domain-error';
import { validateArrayBody } from '../common/http/validation';
import { AppConfig } from '../config/app-config';
import { GithubScanningTokenDto, GithubTokenLabelDto } from './dto/leak.dto';
import { GithubScanningKeys } from './github-scanning-keys.service';
import { GithubSecretScanningOffError, GithubSignatureError } from './leak-errors';
import { LeaksService } from './leaks.service';

/** Tokens one GitHub alert may carry; GitHub batches a few at a time. */
export const MAX_GITHUB_TOKENS = 1000;

export interface GithubSignedRequest {
  body: Buffer;
  keyIdentifier: string | undefined;
  signature: string | undefined;
  requestId: string;
}

/**
 * GitHub's secret scanning partner program: GitHub posts the tokens it found
 * in public content, signed with one of its published keys. A verified token
 * that is a valid version of a credential is handled with LEAK_ACTION; the
 * answer labels each token for GitHub.
 */
@Injectable()
export class GithubSecretScanningService {
  constructor(
    private readonly keys: GithubScanningKeys,
    private readonly leaks: LeaksService,
    private readonly config: AppConfig,
  ) {}

  async handle(request: GithubSignedRequest): Promise<GithubTokenLabelDto[]> {
    if (!this.keys.enabled) throw new GithubSecretScanningOffError();
    if (!request.keyIdentifier) throw new GithubSignatureError('Github-Public-Key-Identifier is missing');
    if (!request.signature) throw new GithubSignatureError('Github-Public-Key-Signature is missing');
    const verdict = await this.keys.verify(request.body, request.keyIdentifier, request.signature);
    if (verdict === 'unknown_key') throw new GithubSignatureError('the key identifier is not one of the keys GitHub publishes');
    if (verdict !== 'valid') throw new GithubSignatureError('the signature does not verify');

    let parsed: unknown;
    try {
      parsed = JSON.parse(request.body.toString('utf8'));
    } catch {
      throw InvalidInputError.field('body', 'is not valid JSON');
    }
    const tokens = await validateArrayBody(parsed, GithubScanningTokenDto, MAX_GITHUB_TOKENS);
    const ctx = systemContext('github-secret-scanning', request.requestId);
    const labels: GithubTokenLabelDto[] = [];
    for (const item of tokens) {
      const secretSha256 = createHash('sha256').update(item.token, 'utf8').digest('hex');
      const answer = await this.leaks.report(ctx, {
        secretSha256,
        source: ['github', item.source].filter(Boolean).join(' '),
        url: item.url ?? null,
        action: this.config.leaks.action,
        revokeWhenRotationImpossible: true,
      });
      const live = answer.versionState === 'current' || answer.versionState === 'grace' || answer.versionState === 'pending';
      labels.push({ token_hash: secretSha256, token_type: item.type, label: live ? 'true_positive' : 'false_positive' });
    }
    return labels;
  }
}
