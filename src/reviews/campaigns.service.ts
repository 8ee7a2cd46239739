import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { Actor, canReadAll, RequestContext, scopedOwnerFilter } from '../auth/actor';
import { Clock, DAY_MS } from '../common/clock/clock';
import { InvalidInputError, NotFoundError } from '../common/errors/domain-error';
import { mapPage, Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import { AppConfig } from '../config/app-config';
import { OwnersService } from '../inventory/owners.service';
import { RevocationService } from '../revocation/revocation.service';
import { RotationsService } from '../rotation/rotations.service';
import { CampaignsRepository } from './campaigns.repository';
import type { CampaignDto, CampaignProgressDto, OwnerProgressDto } from './dto/campaign.dto';
import type { MyReviewItemDto, ReviewItemDto } from './dto/review-item.dto';
import { CampaignEntity, CampaignStatus, CloseReason, ExpiryAction } from './entities/campaign.entity';
import { ReviewItemStatus } from './entities/review-item.entity';
import { CampaignClosedError } from './review-errors';
import { ReviewItemsRepository } from './review-items.repository';
import { ReviewMetrics } from './review-metrics';
import { toCampaignView, toItemView } from './review-views';

export interface CampaignScope {
  environment?: 'sandbox' | 'production' | null;
  ownerIds?: string[] | null;
}

export interface OpenCampaignInput extends CampaignScope {
  name: string;
  dueInDays?: number;
  onExpiry?: ExpiryAction;
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
    private readonly repository: CampaignsRepository,
    private readonly reviewItems: ReviewItemsRepository,
    private readonly owners: OwnersService,
    private readonly revocation: RevocationService,
    private readonly rotations: RotationsService,
    private readonly audit: AuditService,
    private readonly metrics: ReviewMetrics,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly config: AppConfig,
  ) {}

  async open(ctx: RequestContext, input: OpenCampaignInput): Promise<CampaignDto> {
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
  async afterOpened(campaign: CampaignDto): Promise<void> {
    if (campaign.itemCount >= ANALYZE_AFTER_ITEMS) await this.reviewItems.analyze();
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
  ): Promise<CampaignDto> {
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
    await this.repository.insert(em, campaign);
    campaign.itemCount = await this.reviewItems.snapshot(em, {
      campaignId: campaign.id,
      openedAt: now,
      environment: campaign.environment,
      ownerIds: campaign.ownerIds,
      highRateLimitPerSecond: this.config.reviews.highRateLimitPerSecond,
      failedRotationCredentialIds: risk.failedRotationCredentialIds,
    });
    await this.repository.setItemCount(em, campaign.id, campaign.itemCount);
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

  async list(query: { status?: CampaignStatus; limit?: number; cursor?: string }): Promise<Page<CampaignDto>> {
    return mapPage(await this.repository.list(query), toCampaignView);
  }

  /** Progress per owner. An owner token sees the campaign's totals and only its own entry. */
  async get(actor: Actor, id: string): Promise<CampaignProgressDto> {
    const campaign = await this.find(id);
    return this.progressOf(this.dataSource.manager, campaign, canReadAll(actor) ? null : actor.ownerId);
  }

  async progressOf(em: EntityManager, campaign: CampaignEntity, onlyOwner: string | null): Promise<CampaignProgressDto> {
    const rows = await this.reviewItems.countsByOwner(em, campaign.id);
    const signoffs = await this.repository.signoffsOf(campaign.id, em);
    const signed = new Map(signoffs.map((s) => [s.ownerId, s]));
    const owners = new Map<string, OwnerProgressDto>();
    const totals = { decided: 0, expired: 0, pending: 0 };
    for (const row of rows) {
      const n = row.count;
      const signoff = signed.get(row.ownerId);
      const entry = owners.get(row.ownerId) ?? {
        ownerId: row.ownerId,
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
      owners.set(row.ownerId, entry);
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
  ): Promise<Page<ReviewItemDto>> {
    await this.find(campaignId);
    return mapPage(await this.reviewItems.list({ ...query, campaignId, ownerId: scopedOwnerFilter(actor, query.ownerId) }), toItemView);
  }

  /**
   * The caller's pending items across open campaigns, newest campaign first.
   * Only open campaigns have pending items; starting from them lets the query
   * use the (campaign, owner, status) index.
   */
  async mine(actor: Actor, query: { limit?: number; cursor?: string }): Promise<Page<MyReviewItemDto>> {
    return mapPage(await this.reviewItems.pendingOfOwner(scopedOwnerFilter(actor, undefined), query), (item) => ({
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
  async close(ctx: RequestContext, id: string, reason: CloseReason): Promise<CampaignProgressDto> {
    return this.dataSource.transaction(async (em) => {
      const campaign = await this.repository.lockForClose(em, id);
      if (!campaign) throw new NotFoundError('campaign', id);
      if (campaign.status === 'closed') throw new CampaignClosedError(id);
      const now = this.clock.now();
      let expired = 0;
      let revocationId: string | null = null;
      let revokedCount = 0;
      if (campaign.onExpiry === 'revoke') {
        const pending = await this.reviewItems.pendingCredentialIds(em, id);
        const revocation = pending.length
          ? await this.revocation.revokeInTransaction(em, ctx, pending, `Access review "${campaign.name}" (${id}) expired undecided`)
          : null;
        revocationId = revocation?.revocationId ?? null;
        revokedCount = revocation?.credentialIds.length ?? 0;
        expired = await this.reviewItems.expireRevoked(em, id, now, revocation?.credentialIds ?? []);
      } else {
        expired = await this.reviewItems.expireKept(em, id, now);
      }
      Object.assign(campaign, { status: 'closed', closedAt: now, closedBy: ctx.actor.tokenId, closeReason: reason, updatedAt: now });
      await this.repository.saveClosed(em, campaign);
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
  findOverdue(now: Date, limit: number): Promise<string[]> {
    return this.repository.overdue(now, limit);
  }

  async find(id: string): Promise<CampaignEntity> {
    const campaign = await this.repository.findById(id);
    if (!campaign) throw new NotFoundError('campaign', id);
    return campaign;
  }
}
