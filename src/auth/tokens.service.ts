import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { Clock } from '../common/clock/clock';
import { InvalidInputError, NotFoundError } from '../common/errors/domain-error';
import { mapPage, Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import { AppConfig } from '../config/app-config';
import { OwnersService } from '../inventory/owners.service';
import { Actor, BOOTSTRAP_ADMIN_TOKEN_ID, RequestContext, Role } from './actor';
import type { TokenDto } from './dto/token.dto';
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
    private readonly clock: Clock,
    private readonly random: RandomSource,
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
      return { tokenId: BOOTSTRAP_ADMIN_TOKEN_ID, role: 'admin', ownerId: null };
    }
    return this.repository.actorBySha256(presentedSha256.toString('hex'));
  }

  async create(ctx: RequestContext, input: { name: string; role: Role; ownerId?: string }): Promise<TokenDto & { token: string }> {
    if (input.role === 'owner' && !input.ownerId) {
      throw InvalidInputError.field('ownerId', 'is required for role owner');
    }
    if (input.role !== 'owner' && input.ownerId) {
      throw InvalidInputError.field('ownerId', 'is only allowed for role owner');
    }
    if (input.ownerId && !(await this.owners.exists(input.ownerId))) {
      throw InvalidInputError.field('ownerId', 'does not name an existing owner');
    }
    const token = API_TOKEN_PREFIX + this.random.bytes(32).toString('base64url');
    const row = await this.dataSource.transaction(async (em) => {
      const entity: ApiTokenEntity = {
        id: this.random.uuid(),
        name: input.name,
        role: input.role,
        ownerId: input.ownerId ?? null,
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
        data: { name: entity.name, role: entity.role, ownerId: entity.ownerId },
      });
      return entity;
    });
    return { ...toView(row), token };
  }

  async list(query: { limit?: number; cursor?: string }): Promise<Page<TokenDto>> {
    return mapPage(await this.repository.list(query), toView);
  }

  /** Revokes a token at once: the next request presenting it gets 401. */
  async revoke(ctx: RequestContext, id: string): Promise<void> {
    await this.dataSource.transaction(async (em) => {
      const row = await this.repository.lockForChange(em, id);
      if (!row) throw new NotFoundError('token', id);
      if (row.revokedAt) return;
      row.revokedAt = this.clock.now();
      await this.repository.markRevoked(em, id, row.revokedAt);
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
    createdAt: row.createdAt.toISOString(),
    revokedAt: row.revokedAt ? row.revokedAt.toISOString() : null,
  };
}
