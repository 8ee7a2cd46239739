import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { Clock } from '../common/clock/clock';
import { AfterCommit } from '../common/db/after-commit';
import { InvalidInputError, NotFoundError } from '../common/errors/domain-error';
import { mapPage, Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import { AppConfig } from '../config/app-config';
import { GatewaysService } from '../gateways/gateways.service';
import { OwnersService } from '../inventory/owners.service';
import { Actor, BOOTSTRAP_ADMIN_TOKEN_ID, RequestContext, Role } from './actor';
import { ApiTokenCache } from './api-token-cache';
import type { SelfTokenDto, TokenDto } from './dto/token.dto';
import { ApiTokenEntity } from './entities/api-token.entity';
import { digestsEqual, sha256, sha256Hex } from './token-hash';
import { TokensRepository } from './tokens.repository';

export const API_TOKEN_PREFIX = 'agt_';

@Injectable()
export class TokensService {
  private readonly adminTokenSha256: Buffer;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: TokensRepository,
    private readonly audit: AuditService,
    private readonly owners: OwnersService,
    private readonly gateways: GatewaysService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly cache: ApiTokenCache,
    private readonly afterCommit: AfterCommit,
    config: AppConfig,
  ) {
    this.adminTokenSha256 = sha256(config.adminToken);
  }

  /** Resolves a presented bearer token to its actor, or null. Only hashes are compared. */
  async authenticate(presented: string): Promise<Actor | null> {
    // One digest per request: compared in constant time with the admin token's,
    // then looked up (as hex) among the stored tokens' digests.
    const presentedSha256 = sha256(presented);
    if (digestsEqual(presentedSha256, this.adminTokenSha256)) {
      return { tokenId: BOOTSTRAP_ADMIN_TOKEN_ID, role: 'admin', ownerId: null, gatewayId: null };
    }
    return this.liveActor(presentedSha256.toString('hex'));
  }

  /** A live token's actor by its hex digest: from the replica's cache (src/auth/api-token-cache.ts), else Postgres. */
  private liveActor(sha256Hex: string): Promise<Actor | null> {
    return this.cache.get(sha256Hex, async () => {
      const actor = await this.repository.actorBySha256(sha256Hex);
      return actor && Object.freeze(actor);
    });
  }

  /**
   * A token's actor and name, for opening a console session with it; null when
   * it is unknown or revoked. `tokenSha256` is what the session keeps to re-check
   * the token on each request (authenticateDigest), never the token.
   */
  async identify(presented: string): Promise<{ actor: Actor; name: string; tokenSha256: string } | null> {
    const presentedSha256 = sha256(presented);
    const tokenSha256 = presentedSha256.toString('hex');
    if (digestsEqual(presentedSha256, this.adminTokenSha256)) {
      return {
        actor: { tokenId: BOOTSTRAP_ADMIN_TOKEN_ID, role: 'admin', ownerId: null, gatewayId: null },
        name: 'ADMIN_TOKEN',
        tokenSha256,
      };
    }
    const row = await this.repository.liveBySha256(tokenSha256);
    return row
      ? { actor: { tokenId: row.id, role: row.role, ownerId: row.ownerId, gatewayId: row.gatewayId }, name: row.name, tokenSha256 }
      : null;
  }

  /** Like authenticate, from the token's hex SHA-256: null once the token is revoked (or ADMIN_TOKEN changed). */
  async authenticateDigest(tokenSha256Hex: string): Promise<Actor | null> {
    const digest = Buffer.from(tokenSha256Hex, 'hex');
    if (digestsEqual(digest, this.adminTokenSha256))
      return { tokenId: BOOTSTRAP_ADMIN_TOKEN_ID, role: 'admin', ownerId: null, gatewayId: null };
    return this.liveActor(tokenSha256Hex);
  }

  async create(
    ctx: RequestContext,
    input: { name: string; role: Role; ownerId?: string; gatewayId?: string },
  ): Promise<TokenDto & { token: string }> {
    if (input.role === 'owner' && !input.ownerId) {
      throw InvalidInputError.field('ownerId', 'is required for role owner');
    }
    if (input.role !== 'owner' && input.ownerId) {
      throw InvalidInputError.field('ownerId', 'is only allowed for role owner');
    }
    if (input.ownerId && !(await this.owners.exists(input.ownerId))) {
      throw InvalidInputError.field('ownerId', 'does not name an existing owner');
    }
    if (input.role === 'gateway' && !input.gatewayId) {
      throw InvalidInputError.field('gatewayId', 'is required for role gateway');
    }
    if (input.role !== 'gateway' && input.gatewayId) {
      throw InvalidInputError.field('gatewayId', 'is only allowed for role gateway');
    }
    if (input.gatewayId && !(await this.gateways.exists(input.gatewayId))) {
      throw InvalidInputError.field('gatewayId', 'does not name an existing gateway');
    }
    const token = API_TOKEN_PREFIX + this.random.bytes(32).toString('base64url');
    const row = await this.dataSource.transaction(async (em) => {
      const entity: ApiTokenEntity = {
        id: this.random.uuid(),
        name: input.name,
        role: input.role,
        ownerId: input.ownerId ?? null,
        gatewayId: input.gatewayId ?? null,
        tokenSha256: sha256Hex(token),
        createdBy: ctx.actor.tokenId,
        createdAt: this.clock.now(),
        revokedAt: null,
      };
      await this.repository.insert(em, entity);
      await this.audit.record(em, ctx, {
        action: 'token.created',
        targetType: 'token',
        targetId: entity.id,
        data: { name: entity.name, role: entity.role, ownerId: entity.ownerId, gatewayId: entity.gatewayId },
      });
      return entity;
    });
    return { ...toView(row), token };
  }

  async list(query: { limit?: number; cursor?: string }): Promise<Page<TokenDto>> {
    return mapPage(await this.repository.list(query), toView);
  }

  /** The token the caller presented, by its actor (`GET /v1/tokens/self`): who a CLI or console is signed in as. Never the token itself. */
  async self(actor: Actor): Promise<SelfTokenDto> {
    if (actor.tokenId === BOOTSTRAP_ADMIN_TOKEN_ID) {
      return { id: BOOTSTRAP_ADMIN_TOKEN_ID, name: 'ADMIN_TOKEN', role: 'admin', ownerId: null };
    }
    const row = await this.repository.findById(actor.tokenId);
    if (!row) throw new NotFoundError('token', actor.tokenId);
    return { id: row.id, name: row.name, role: row.role, ownerId: row.ownerId };
  }

  /**
   * Revokes a token at once: the next request presenting it gets 401. The NOTIFY sent in the same
   * transaction drops it from every replica's token cache at commit (src/auth/api-token-cache.ts).
   * This replica drops it itself as the transaction commits, before answering: its own NOTIFY
   * reaches its listener asynchronously, possibly after the caller's next request.
   */
  async revoke(ctx: RequestContext, id: string): Promise<void> {
    await this.dataSource.transaction(async (em) => {
      const row = await this.repository.lockForChange(em, id);
      if (!row) throw new NotFoundError('token', id);
      if (row.revokedAt) return;
      row.revokedAt = this.clock.now();
      await this.repository.markRevoked(em, id, row.revokedAt);
      await this.repository.notifyChanged(em, id);
      this.afterCommit.run(em, () => this.cache.invalidate([id]));
      await this.audit.record(em, ctx, {
        action: 'token.revoked',
        targetType: 'token',
        targetId: id,
        data: { name: row.name, role: row.role },
      });
    });
  }
}

function toView(row: ApiTokenEntity): TokenDto {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    ownerId: row.ownerId,
    gatewayId: row.gatewayId,
    createdAt: row.createdAt.toISOString(),
    revokedAt: row.revokedAt ? row.revokedAt.toISOString() : null,
  };
}

/** The token of an `Authorization: Bearer <token>` header, or null when the header is not one. */
export function bearerTokenOf(authorization: unknown): string | null {
  const match = typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  return match ? match[1]! : null;
}
