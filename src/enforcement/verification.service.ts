import { Injectable } from '@nestjs/common';

import type { Actor } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { RandomSource } from '../common/random/random-source';
import { RateLimiter } from '../common/rate-limit/rate-limiter';
import { AppConfig } from '../config/app-config';
import { GatewaysService } from '../gateways/gateways.service';
import { AccessTokensService, type ActiveAccessToken } from '../oauth/access-tokens.service';
import { CredentialVersionsRepository } from './credential-versions.repository';
import { addressAllowed, EnforcedCredential, isRetiredAt, parseAddress, toEnforcedCredential, versionOf } from './enforced-credential';
import { PresentedCredentialResolver } from './presented-credential-resolver';
import { type UsageRecord, UsageRecorderService } from './usage-recorder.service';
import { CachedAnswer, VerificationCache } from './verification-cache';
import { authzStatusOf, type VerifyCode } from './verification-codes';

type Environment = 'sandbox' | 'production';

export interface VerifyInput {
  /** The presented key, exactly as sent. Hashed here and never kept. */
  key: string;
  scope: string | null;
  /** The client address as sent; `address` is it parsed (null when not an address). */
  ip: string | null;
  /** For an admin: the environment to check against; a gateway's are its own. */
  environment: Environment | null;
  /** What the per-call record says of the request; absent: the call is counted in the rollups only. */
  call?: { source: 'verify' | 'authz'; requestId: string; method: string | null; path: string | null };
}

export interface Verification {
  valid: boolean;
  code: VerifyCode;
  credentialId?: string;
  clientId?: string;
  agentId?: string;
  ownerId?: string;
  environment?: Environment;
  /** The credential's scopes: a shared list, never to be changed. */
  scopes?: readonly string[];
  version?: number;
  deprecated?: boolean;
  rateLimit?: { limit: number; remaining: number; resetAt: string };
  /** Seconds until the rate limit lets one more call through (RATE_LIMITED only). */
  retryAfterSeconds?: number;
}

/**
 * Decides one verification (POST /v1/verify, /v1/authz). The checks run in
 * this order, each answered by the first that fails: the key's shape (no
 * lookup), whether any credential has it, the caller's environments (a gateway
 * learns nothing of another environment's credentials), revocation,
 * retirement (a version past its grace period), scope, client address, and
 * last the rate limit, so only calls that pass everything else are counted.
 * Every call that reaches a credential is recorded as usage, off the answer's path.
 * An OAuth access token is checked by the oauth module and then goes through
 * the same environment, scope, address and rate-limit checks as a key.
 */
@Injectable()
export class VerificationService {
  private readonly loads = new Map<string, { epoch: number; answer: Promise<CachedAnswer> }>();
  private readonly gatewayEnvironments = new Map<string, readonly Environment[]>();

  constructor(
    private readonly resolver: PresentedCredentialResolver,
    private readonly cache: VerificationCache,
    private readonly repository: CredentialVersionsRepository,
    private readonly limiter: RateLimiter,
    private readonly usage: UsageRecorderService,
    private readonly gateways: GatewaysService,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly random: RandomSource,
    private readonly accessTokens: AccessTokensService,
  ) {}

  async verify(actor: Actor, input: VerifyInput): Promise<Verification> {
    const presented = this.resolver.resolve(input.key);
    if (presented.kind === 'malformed') return { valid: false, code: 'MALFORMED' };
    if (presented.kind === 'access_token') return this.verifyAccessToken(actor, input, presented.token);
    const answer = this.cache.get(presented.sha256) ?? (await this.load(presented.sha256));
    if (answer.kind === 'unknown') return { valid: false, code: 'NOT_FOUND' };
    const credential = answer.credential;
    const version = versionOf(credential, presented.sha256)!;

    const allowed = await this.environmentsOf(actor, input.environment);
    if (allowed && !allowed.includes(credential.environment)) return { valid: false, code: 'ENVIRONMENT_MISMATCH' };

    const now = this.clock.now();
    let result: Verification;
    if (credential.status === 'revoked') result = answerFor(false, 'REVOKED', credential, version.version, undefined);
    // A credential that was never issued (pending approval, rejected) has no version a gateway was told of.
    else if (credential.status !== 'active') return { valid: false, code: 'NOT_FOUND' };
    else if (isRetiredAt(version, now.getTime())) result = answerFor(false, 'RETIRED', credential, version.version, undefined);
    else result = await this.grant(credential, input, version.version, version.validUntilMs !== null);
    this.recordUsage(actor, input, credential, result, now);
    return result;
  }

  /**
   * An OAuth access token: AccessTokensService checks the token and reads its
   * credential's state from Postgres (so a revoked client's tokens are refused
   * at once); then the same checks as for a key, in the same order:
   * environment, scope (the token's scopes the credential still holds),
   * address, rate limit (the credential's own), and usage against the credential.
   */
  private async verifyAccessToken(actor: Actor, input: VerifyInput, presented: string): Promise<Verification> {
    const token = await this.accessTokens.verify(presented);
    const now = this.clock.now();
    if (!token.valid) {
      // A refused token of ours names its credential (revoked, rotated): counted in its rollups, as a refused key is.
      if (token.code === 'REVOKED' && token.credentialId) {
        this.usage.record({
          credentialId: token.credentialId,
          at: now,
          scope: input.scope,
          code: token.code,
          ip: input.ip === null ? null : (parseAddress(input.ip)?.toString() ?? null),
          authenticated: false,
        });
      }
      return { valid: false, code: token.code };
    }
    const credential = enforcedTokenCredential(token);
    const allowed = await this.environmentsOf(actor, input.environment);
    if (allowed && !allowed.includes(credential.environment)) return { valid: false, code: 'ENVIRONMENT_MISMATCH' };
    const result = await this.grant(credential, input, undefined, false);
    this.recordUsage(actor, input, credential, result, now);
    return result;
  }

  /**
   * The checks after the credential is known to be valid: scope, client address, and last the rate limit.
   * `version` is the presented key's (undefined for an access token).
   */
  private async grant(
    credential: EnforcedCredential,
    input: VerifyInput,
    version: number | undefined,
    deprecated: boolean,
  ): Promise<Verification> {
    if (input.scope !== null && !credential.scopes.includes(input.scope)) {
      return answerFor(false, 'SCOPE_DENIED', credential, version, deprecated);
    }
    if (credential.allowlist.length > 0 && !addressAllowed(credential.allowlist, input.ip === null ? null : parseAddress(input.ip))) {
      return answerFor(false, 'IP_DENIED', credential, version, deprecated);
    }
    const limit = await this.limiter.consume(credential.credentialId, credential.rateLimit);
    const rateLimit = { limit: limit.limit, remaining: limit.remaining, resetAt: isoOf(limit.resetAt) };
    if (!limit.allowed) {
      const refused = answerFor(false, 'RATE_LIMITED', credential, version, deprecated);
      refused.rateLimit = rateLimit;
      refused.retryAfterSeconds = limit.retryAfterSeconds;
      return refused;
    }
    const granted = answerFor(true, 'VALID', credential, version, deprecated);
    granted.rateLimit = rateLimit;
    return granted;
  }

  /** Records a verification that reached a credential, off the answer's path. Never the key or token. */
  private recordUsage(actor: Actor, input: VerifyInput, credential: EnforcedCredential, result: Verification, now: Date): void {
    const authenticated =
      result.code === 'VALID' || result.code === 'SCOPE_DENIED' || result.code === 'IP_DENIED' || result.code === 'RATE_LIMITED';
    const ip = input.ip === null ? null : (parseAddress(input.ip)?.toString() ?? null);
    const call = input.call;
    const record: UsageRecord = {
      credentialId: credential.credentialId,
      at: now,
      scope: input.scope,
      code: result.code,
      ip,
      authenticated,
      call: call && {
        id: this.random.orderedUuid(),
        at: now,
        credentialId: credential.credentialId,
        clientId: credential.clientId,
        ownerId: credential.ownerId,
        source: call.source,
        gatewayId: actor.gatewayId,
        method: call.method,
        path: call.path,
        scope: input.scope,
        statusCode: call.source === 'authz' ? authzStatusOf(result.code, this.config.enforcement.authzRateLimitedStatus) : null,
        ip,
        requestId: call.requestId,
        outcome: result.code === 'VALID' ? 'allowed' : 'denied',
        denyCode: result.code === 'VALID' ? null : result.code,
      },
    };
    if (result.version !== undefined) record.version = result.version;
    this.usage.record(record);
  }

  /**
   * The currently valid versions of these credentials, as a gateway snapshot
   * lists them: each version's SHA-256 and when it stops being valid (null for
   * a version without an end). Revoked and never-issued credentials have none.
   */
  async validVersions(
    credentialIds: readonly string[],
  ): Promise<Map<string, Array<{ version: number; secretSha256: string; validUntil: Date | null }>>> {
    const nowMs = this.clock.now().getTime();
    const result = new Map<string, Array<{ version: number; secretSha256: string; validUntil: Date | null }>>();
    for (const row of await this.repository.findByIds(credentialIds)) {
      if (row.status !== 'active') {
        result.set(row.credentialId, []);
        continue;
      }
      result.set(
        row.credentialId,
        row.versions
          .filter((v) => v.retiredAt === null && (v.validUntil === null || v.validUntil.getTime() > nowMs))
          .map((v) => ({ version: v.version, secretSha256: v.sha256, validUntil: v.validUntil })),
      );
    }
    return result;
  }

  /** Loads a key hash's answer from Postgres, once for concurrent callers; kept unless a change was notified meanwhile. */
  private load(sha256: string): Promise<CachedAnswer> {
    const epoch = this.cache.epoch;
    const inFlight = this.loads.get(sha256);
    // A load that started before the latest change may have read what changed: only later ones are joined.
    if (inFlight && inFlight.epoch === epoch) return inFlight.answer;
    const answer = this.repository.findByKeySha256(sha256).then((rows): CachedAnswer => {
      const found: CachedAnswer = rows.length ? { kind: 'found', credential: toEnforcedCredential(rows[0]) } : { kind: 'unknown' };
      this.cache.put(sha256, found, epoch);
      return found;
    });
    const entry = { epoch, answer };
    this.loads.set(sha256, entry);
    const forget = () => {
      if (this.loads.get(sha256) === entry) this.loads.delete(sha256);
    };
    answer.then(forget, forget);
    return answer;
  }

  /** The environments the caller may verify for: a gateway's own; an admin's as asked (null: any). */
  private async environmentsOf(actor: Actor, asked: Environment | null): Promise<readonly Environment[] | null> {
    if (actor.role !== 'gateway') return asked ? [asked] : null;
    const id = actor.gatewayId!;
    let environments = this.gatewayEnvironments.get(id);
    if (!environments) {
      // A gateway's environments are fixed when it is registered.
      environments = (await this.gateways.get(id)).environments;
      this.gatewayEnvironments.set(id, environments);
    }
    return asked ? environments.filter((e) => e === asked) : environments;
  }
}

/**
 * An answer that names the credential (a grant, or a refusal past the key check): what it says of it (`version` only for a key: a token is of
 * the client, not of a version), and `deprecated` where the key's version was checked. The scopes are the
 * credential's own frozen list, shared (src/enforcement/enforced-credential.ts), not a copy per call.
 */
function answerFor(
  valid: boolean,
  code: VerifyCode,
  credential: EnforcedCredential,
  version: number | undefined,
  deprecated: boolean | undefined,
): Verification {
  const result: Verification = {
    valid,
    code,
    credentialId: credential.credentialId,
    clientId: credential.clientId,
    agentId: credential.agentId,
    ownerId: credential.ownerId,
    environment: credential.environment,
    scopes: credential.scopes,
  };
  if (version !== undefined) result.version = version;
  if (deprecated !== undefined) result.deprecated = deprecated;
  return result;
}

/** The last resetAt formatted: calls of a window size share their sub-window boundaries, so most calls reuse it. */
let lastResetAtMs = NaN;
let lastResetAtIso = '';

function isoOf(ms: number): string {
  if (ms !== lastResetAtMs) {
    lastResetAtIso = new Date(ms).toISOString();
    lastResetAtMs = ms;
  }
  return lastResetAtIso;
}

/** A verified access token's credential as the checks see it: its scopes are the token's that the credential still holds. */
function enforcedTokenCredential(token: ActiveAccessToken): EnforcedCredential {
  return toEnforcedCredential({
    credentialId: token.credentialId,
    clientId: token.clientId,
    agentId: token.agentId,
    ownerId: token.ownerId,
    environment: token.environment,
    status: 'active',
    scopes: token.scopes,
    rateLimitRequests: token.rateLimit.requests,
    rateLimitPerSeconds: token.rateLimit.perSeconds,
    ipAllowlist: token.ipAllowlist,
    versions: [],
  });
}
