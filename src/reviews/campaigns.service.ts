import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { Actor, canReadAll, RequestContext } from '../auth/actor';
import { Clock, DAY_MS } from '../common/clock/clock';
import { InvalidInputError, NotFoundError } from '../common/errors/domain-error';
import { fetchTimePage, Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import { SqlParams } from '../common/db/sql-params';
import { AppConfig } from '../config/app-config';
import { scopedOwnerFilter } from '../inventory/agents.service';
import { OwnersService } from '../inventory/owners.service';
import { RevocationService } from '../revocation/revocation.service';
import { RotationsService } from '../rotation/rotations.service';
import { CampaignSignoffEntity } from './entities/campaign-signoff.entity';
import { CampaignEntity, CampaignStatus, CloseReason, ExpiryAction } from './entities/campaign.entity';
import { ReviewItemEntity, ReviewItemStatus } from './entities/review-item.entity';
import { CampaignClosedError } from './review-errors';
import { ReviewMetrics } from './review-metrics';
import {
  CampaignProgress,
  CampaignView,
  OwnerProgress,
  ReviewItemView,
  toCampaignView,
  toItemView,
} from './review-views';
import { itemIdSql } from './item-id';
import { riskFlagsSql } from './risk-flags';

export interface CampaignScope {
  environment?: 'sandbox' | 'production' | null;
  ownerIds?: string[] | null;
}

export interface OpenCampaignInput extends CampaignScope {
  name: string;
  dueInDays?: number;
  onExpiry?: ExpiryAction;
}

export interface MyReviewItemView extends ReviewItemView {
  campaignName: string;
  dueAt: string;
}

export interface RiskInputs {
  failedRotationCredentialIds: string[];
}

/** Campaigns at least this large refresh review_items' planner statistics once opened. */
const ANALYZE_AFTER_ITEMS = 5_000;

export const DEFAULT_DUE_IN_DAYS = 14;
export const DEFAULT_ON_EXPIRY: ExpiryAction = 'keep';

/**
 * Campaigns: opening one snapshots the credentials in scope into review items
 * (one set-based statement), reading progress and items, and closing, which
 * gives every undecided item the campaign's expiry action.
 */
@Injectable()
export class CampaignsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly owners: OwnersService,
    private readonly revocation: RevocationService,
    private readonly rotations: RotationsService,
    private readonly audit: AuditService,
    private readonly metrics: ReviewMetrics,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly config: AppConfig,
  ) {}

  async open(ctx: RequestContext, input: OpenCampaignInput): Promise<CampaignView> {
    await this.assertOwnersExist(input.ownerIds);
    const risk = await this.riskInputs();
    const campaign = await this.dataSource.transaction((em) => this.openIn(em, ctx, input, risk, null));
    await this.afterOpened(campaign);
    return campaign;
  }

  /**
   * A large campaign changes review_items' statistics at a stroke; until
   * autovacuum notices (up to a minute), the planner would think the campaign
   * has a few hundred items and sort all of them for every page and report
   * batch. Analysing right away keeps those reads on their indexes.
   */
  async afterOpened(campaign: CampaignView): Promise<void> {
    if (campaign.itemCount >= ANALYZE_AFTER_ITEMS) await this.dataSource.query('ANALYZE review_items');
  }

  /** Refuses an owner scope naming an owner that does not exist (400 naming `ownerIds[i]`). */
  async assertOwnersExist(ownerIds: string[] | null | undefined): Promise<void> {
    const errors = [];
    for (const [index, id] of (ownerIds ?? []).entries()) {
      if (!(await this.owners.exists(id))) errors.push({ field: `ownerIds[${index}]`, message: 'does not name an existing owner' });
    }
    if (errors.length) throw new InvalidInputError(errors);
  }

  /**
   * Opens a campaign inside the caller's transaction: the campaign row, then
   * one INSERT ... SELECT that snapshots every active credential in scope into
   * a pending item for the agent's owner, risk flags computed on the way, then
   * one audit event for the campaign. Credentials committed after this
   * statement's snapshot are not in the campaign.
   */
  async openIn(
    em: EntityManager,
    ctx: RequestContext,
    input: OpenCampaignInput,
    risk: RiskInputs,
    schedule: { scheduleId: string; period: number } | null,
  ): Promise<CampaignView> {
    const started = performance.now();
    const now = this.clock.now();
    const campaign: CampaignEntity = {
      id: this.random.uuid(),
      name: input.name,
      status: 'open',
      environment: input.environment ?? null,
      ownerIds: input.ownerIds?.length ? [...new Set(input.ownerIds)] : null,
      onExpiry: input.onExpiry ?? DEFAULT_ON_EXPIRY,
      dueAt: new Date(now.getTime() + (input.dueInDays ?? DEFAULT_DUE_IN_DAYS) * DAY_MS),
      itemCount: 0,
      scheduleId: schedule?.scheduleId ?? null,
      schedulePeriod: schedule?.period ?? null,
      openedBy: ctx.actor.tokenId,
      closedAt: null,
      closedBy: null,
      closeReason: null,
      createdAt: now,
      updatedAt: now,
    };
    await em.insert(CampaignEntity, campaign);

    const params = new SqlParams();
    const campaignId = params.add(campaign.id);
    const openedAt = params.add(now);
    const flags = riskFlagsSql({
      now: `${openedAt}::timestamptz`,
      highRateLimitPerSecond: `${params.add(this.config.reviews.highRateLimitPerSecond)}::numeric`,
      failedRotationCredentialIds: `${params.add(risk.failedRotationCredentialIds)}::uuid[]`,
    });
    const scope = [`c.status = 'active'`];
    if (campaign.environment) scope.push(`c.environment = ${params.add(campaign.environment)}`);
    if (campaign.ownerIds) scope.push(`c.owner_id = ANY (${params.add(campaign.ownerIds)}::uuid[])`);
    const inserted = await em.queryRunner!.query(
      `INSERT INTO review_items (id, campaign_id, credential_id, client_id, agent_id, agent_name, owner_id, environment,
         scopes, rate_limit_requests, rate_limit_per_seconds, ip_allowlist, last_used_at, last_rotated_at,
         next_rotation_at, risk_flags, status, created_at)
       SELECT ${itemIdSql(`replace(${campaignId}::uuid::text, '-', '')`, 'row_number() OVER (ORDER BY c.owner_id, c.credential_id)')},
              ${campaignId}::uuid, c.credential_id, c.client_id, c.agent_id, c.agent_name, c.owner_id, c.environment,
              c.scopes, c.rate_limit_requests, c.rate_limit_per_seconds, c.ip_allowlist, c.last_used_at,
              c.last_rotated_at, c.next_rotation_at, ${flags}, 'pending', ${openedAt}::timestamptz
         FROM credential_review_source c
        WHERE ${scope.join(' AND ')}`,
      params.values,
      true,
    );
    campaign.itemCount = Number(inserted.affected ?? 0);
    await em.update(CampaignEntity, { id: campaign.id }, { itemCount: campaign.itemCount });
    await this.audit.record(em, ctx, {
      action: 'campaign.opened',
      targetType: 'campaign',
      targetId: campaign.id,
      data: {
        name: campaign.name,
        environment: campaign.environment,
        ownerIds: campaign.ownerIds,
        onExpiry: campaign.onExpiry,
        dueAt: campaign.dueAt.toISOString(),
        itemCount: campaign.itemCount,
        scheduleId: campaign.scheduleId,
        schedulePeriod: campaign.schedulePeriod,
      },
    });
    this.metrics.campaignOpenSeconds.observe((performance.now() - started) / 1000);
    return toCampaignView(campaign);
  }

  /**
   * What the risk flags need from other modules, read before the opening
   * transaction (so it does not hold a second connection): the credentials
   * whose latest rotation failed, from the rotation service's dead letters
   * (a failed rotation holds the next version until retried; there are few,
   * or something is very wrong).
   */
  async riskInputs(): Promise<RiskInputs> {
    const ids = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await this.rotations.list({ status: 'failed', limit: 500, cursor });
      for (const rotation of page.items) ids.add(rotation.credentialId);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return { failedRotationCredentialIds: [...ids] };
  }

  list(query: { status?: CampaignStatus; limit?: number; cursor?: string }): Promise<Page<CampaignView>> {
    const qb = this.dataSource.getRepository(CampaignEntity).createQueryBuilder('c');
    if (query.status) qb.andWhere('c.status = :status', { status: query.status });
    return fetchTimePage(qb, 'c', query, toCampaignView);
  }

  /** Progress per owner. An owner token sees the campaign's totals and only its own entry. */
  async get(actor: Actor, id: string): Promise<CampaignProgress> {
    const campaign = await this.find(id);
    return this.progressOf(this.dataSource.manager, campaign, canReadAll(actor) ? null : actor.ownerId);
  }

  async progressOf(em: EntityManager, campaign: CampaignEntity, onlyOwner: string | null): Promise<CampaignProgress> {
    const rows: Array<{ owner_id: string; status: ReviewItemStatus; n: string }> = await em.query(
      'SELECT owner_id, status, count(*) AS n FROM review_items WHERE campaign_id = $1 GROUP BY owner_id, status',
      [campaign.id],
    );
    const signoffs = await em.find(CampaignSignoffEntity, { where: { campaignId: campaign.id } });
    const signed = new Map(signoffs.map((s) => [s.ownerId, s]));
    const owners = new Map<string, OwnerProgress>();
    const totals = { decided: 0, expired: 0, pending: 0 };
    for (const row of rows) {
      const n = Number(row.n);
      const signoff = signed.get(row.owner_id);
      const entry = owners.get(row.owner_id) ?? {
        ownerId: row.owner_id,
        total: 0,
        decided: 0,
        expired: 0,
        pending: 0,
        signedOffAt: signoff ? signoff.signedAt.toISOString() : null,
        decisionsSha256: signoff?.decisionsSha256 ?? null,
      };
      entry.total += n;
      entry[row.status] += n;
      totals[row.status] += n;
      owners.set(row.owner_id, entry);
    }
    const list = [...owners.values()]
      .filter((o) => onlyOwner === null || o.ownerId === onlyOwner)
      .sort((a, b) => (a.ownerId < b.ownerId ? -1 : 1));
    return {
      ...toCampaignView(campaign),
      decidedCount: totals.decided,
      expiredCount: totals.expired,
      pendingCount: totals.pending,
      owners: list,
    };
  }

  async items(
    actor: Actor,
    campaignId: string,
    query: { ownerId?: string; status?: ReviewItemStatus; limit?: number; cursor?: string },
  ): Promise<Page<ReviewItemView>> {
    await this.find(campaignId);
    const ownerId = scopedOwnerFilter(actor, query.ownerId);
    const qb = this.dataSource.getRepository(ReviewItemEntity).createQueryBuilder('i').where('i.campaign_id = :campaignId', { campaignId });
    if (ownerId) qb.andWhere('i.owner_id = :ownerId', { ownerId });
    if (query.status) qb.andWhere('i.status = :status', { status: query.status });
    return fetchTimePage(qb, 'i', query, toItemView);
  }

  /**
   * The caller's pending items across open campaigns, newest campaign first.
   * Only open campaigns have pending items; starting from them lets the query
   * use the (campaign, owner, status) index.
   */
  mine(actor: Actor, query: { limit?: number; cursor?: string }): Promise<Page<MyReviewItemView>> {
    const ownerId = scopedOwnerFilter(actor, undefined);
    const qb = this.dataSource
      .getRepository(ReviewItemEntity)
      .createQueryBuilder('i')
      .innerJoinAndSelect('i.campaign', 'c')
      .where(`c.status = 'open'`)
      .andWhere('i.owner_id = :ownerId', { ownerId })
      .andWhere(`i.status = 'pending'`);
    return fetchTimePage(qb, 'i', query, (item) => ({
      ...toItemView(item),
      campaignName: item.campaign!.name,
      dueAt: item.campaign!.dueAt.toISOString(),
    }));
  }

  /**
   * Closes a campaign (by hand, or at its deadline from the sweep): every item
   * still pending becomes `expired` and gets the campaign's `onExpiry`. With
   * `revoke`, their credentials are revoked as one revocation (gateways hear
   * `credential.revoked`); with `keep`, access stays and the items say so.
   * Credentials revoked outside the review meanwhile are marked
   * `revoked_elsewhere`. One transaction; one `campaign.closed` audit event
   * (the revocation writes its own per credential).
   */
  async close(ctx: RequestContext, id: string, reason: CloseReason): Promise<CampaignProgress> {
    return this.dataSource.transaction(async (em) => {
      const campaign = await em.findOne(CampaignEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!campaign) throw new NotFoundError('campaign', id);
      if (campaign.status === 'closed') throw new CampaignClosedError(id);
      const now = this.clock.now();
      let expired = 0;
      let revocationId: string | null = null;
      let revokedCount = 0;
      if (campaign.onExpiry === 'revoke') {
        const pending: Array<{ credential_id: string }> = await em.query(
          `SELECT credential_id FROM review_items WHERE campaign_id = $1 AND status = 'pending'`,
          [id],
        );
        const revocation = pending.length
          ? await this.revocation.revokeInTransaction(
              em,
              ctx,
              pending.map((p) => p.credential_id),
              `Access review "${campaign.name}" (${id}) expired undecided`,
            )
          : null;
        revocationId = revocation?.revocationId ?? null;
        revokedCount = revocation?.credentialIds.length ?? 0;
        const updated = await em.queryRunner!.query(
          `UPDATE review_items
              SET status = 'expired', scopes_after = '{}', resolved_at = $2,
                  outcome = CASE WHEN credential_id = ANY ($3::uuid[]) THEN 'revoked_on_expiry' ELSE 'revoked_elsewhere' END
            WHERE campaign_id = $1 AND status = 'pending'`,
          [id, now, revocation?.credentialIds ?? []],
          true,
        );
        expired = Number(updated.affected ?? 0);
      } else {
        const updated = await em.queryRunner!.query(
          `UPDATE review_items i
              SET status = 'expired', resolved_at = $2,
                  outcome = CASE WHEN c.status = 'revoked' THEN 'revoked_elsewhere' ELSE 'kept_on_expiry' END,
                  scopes_after = CASE WHEN c.status = 'revoked' THEN '{}'::text[] ELSE c.scopes END
             FROM credential_review_source c
            WHERE c.credential_id = i.credential_id AND i.campaign_id = $1 AND i.status = 'pending'`,
          [id, now],
          true,
        );
        expired = Number(updated.affected ?? 0);
      }
      Object.assign(campaign, { status: 'closed', closedAt: now, closedBy: ctx.actor.tokenId, closeReason: reason, updatedAt: now });
      await em.update(CampaignEntity, { id }, {
        status: campaign.status,
        closedAt: now,
        closedBy: campaign.closedBy,
        closeReason: reason,
        updatedAt: now,
      });
      await this.audit.record(em, ctx, {
        action: 'campaign.closed',
        targetType: 'campaign',
        targetId: id,
        data: { reason, onExpiry: campaign.onExpiry, expiredCount: expired, revokedCount, revocationId },
      });
      return this.progressOf(em, campaign, null);
    });
  }

  /** Open campaigns whose deadline has passed, oldest deadline first. */
  async findOverdue(now: Date, limit: number): Promise<string[]> {
    const rows = await this.dataSource
      .getRepository(CampaignEntity)
      .createQueryBuilder('c')
      .select('c.id', 'id')
      .where(`c.status = 'open' AND c.due_at <= :now`, { now })
      .orderBy('c.due_at', 'ASC')
      .limit(limit)
      .getRawMany<{ id: string }>();
    return rows.map((r) => r.id);
  }

  async find(id: string): Promise<CampaignEntity> {
    const campaign = await this.dataSource.getRepository(CampaignEntity).findOne({ where: { id } });
    if (!campaign) throw new NotFoundError('campaign', id);
    return campaign;
  }
}
