import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { assertOwnerAccess, RequestContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { isUniqueViolation } from '../common/db/pg-errors';
import {
  ConflictError,
  DomainError,
  FieldError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  TooLargeError,
} from '../common/errors/domain-error';
import { RandomSource } from '../common/random/random-source';
import { CredentialsService } from '../inventory/credentials.service';
import { CredentialNotActiveError } from '../inventory/inventory-errors';
import { RevocationService } from '../revocation/revocation.service';
import { CampaignsRepository } from './campaigns.repository';
import { decisionsSha256 } from './decisions-digest';
import type { ReviewItemDto, SignoffDto } from './dto/review-item.dto';
import type { CampaignEntity } from './entities/campaign.entity';
import { CampaignSignoffEntity } from './entities/campaign-signoff.entity';
import { ReviewDecision, ReviewItemEntity, ReviewOutcome } from './entities/review-item.entity';
import {
  AlreadySignedOffError,
  CampaignClosedError,
  CredentialRevokedElsewhereError,
  ItemAlreadyDecidedError,
  ItemsPendingError,
  NothingToSignOffError,
} from './review-errors';
import { ReviewItemsRepository } from './review-items.repository';
import { ReviewMetrics } from './review-metrics';
import { toAttestedDecision, toItemView, toSignoffView } from './review-views';

export interface DecisionInput {
  decision: ReviewDecision;
  scopes?: string[];
  comment?: string;
}

export interface BulkDecisionItem extends DecisionInput {
  itemId: string;
}

export interface BulkDecisionInput {
  items?: BulkDecisionItem[];
  acceptRecommendations?: boolean;
  ownerId?: string;
}

export interface BulkDecisionResult {
  decided: number;
  items: ReviewItemDto[];
}

/** Pending items one acceptRecommendations call decides at most (one transaction). */
export const MAX_ACCEPTED_RECOMMENDATIONS = 5000;

interface Work {
  /** Where the item stands in the answer. */
  at: number;
  /** How errors name it: `items[i]`, or the item under acceptRecommendations. */
  field: string;
  item: ReviewItemEntity;
  decision: DecisionInput;
}

export const DEFAULT_SIGNOFF_STATEMENT =
  'I have reviewed every credential of my agents in this campaign; the decisions recorded are mine and the outcomes are correct.';

const OUTCOME_OF: Record<ReviewDecision, ReviewOutcome> = { keep: 'kept', reduce: 'reduced', revoke: 'revoked' };

/** Owners' decisions on review items, carried out at once, and their sign-off. */
@Injectable()
export class ReviewDecisionsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly campaigns: CampaignsRepository,
    private readonly items: ReviewItemsRepository,
    private readonly credentials: CredentialsService,
    private readonly revocation: RevocationService,
    private readonly audit: AuditService,
    private readonly metrics: ReviewMetrics,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  /**
   * Decides an item and carries the decision out in the same transaction:
   * keep leaves the credential alone, reduce narrows its scopes through the
   * inventory (gateways hear `credential.updated`), revoke revokes it through
   * the revocation service (`credential.revoked`). The campaign row is held
   * FOR SHARE, so a close cannot slip in between the check and the decision.
   * A credential revoked outside the review is a 409, and the item records it
   * (that is committed: the item needs no decision any more).
   */
  async decide(ctx: RequestContext, campaignId: string, itemId: string, input: DecisionInput): Promise<ReviewItemDto> {
    checkDecisionInput(input, '');
    const result = await this.dataSource.transaction(async (em) => {
      const campaign = await this.campaigns.lockForDecision(em, campaignId);
      if (!campaign) throw new NotFoundError('campaign', campaignId);
      const item = await this.items.lockForDecision(em, campaignId, itemId);
      if (!item) throw new NotFoundError('review item', itemId);
      assertOwnerAccess(ctx.actor, item.ownerId, 'review item');
      if (campaign.status !== 'open') throw new CampaignClosedError(campaignId);
      if (item.status !== 'pending') throw new ItemAlreadyDecidedError(itemId, item.status);
      return this.carryOut(em, ctx, campaign, item, input);
    });
    if ('conflict' in result) throw result.conflict;
    this.metrics.decisions.inc({ decision: input.decision });
    return toItemView(result.item);
  }

  /**
   * Several decisions in one call, all or nothing: one transaction, every item
   * checked before any is carried out (a bad one is a 4xx naming
   * `items[i].field`, and nothing is stored), then each carried out and
   * audited exactly as the single-decision route does (carryOut), in item id
   * order so concurrent calls lock rows in one order. Either the listed items,
   * or with `acceptRecommendations` every pending item of the caller (an
   * admin: of `ownerId`, or of every owner) as its recommendation says. An
   * item whose credential was revoked outside the review is recorded as such
   * (as a single decision would) and answered with that outcome.
   */
  async decideMany(ctx: RequestContext, campaignId: string, input: BulkDecisionInput): Promise<BulkDecisionResult> {
    const listed = input.items !== undefined;
    if (listed === (input.acceptRecommendations !== undefined)) {
      throw InvalidInputError.field('items', 'give either items or acceptRecommendations: true');
    }
    if (input.acceptRecommendations === false) throw InvalidInputError.field('acceptRecommendations', 'must be true when given');
    if (listed && input.ownerId !== undefined) throw InvalidInputError.field('ownerId', 'is only allowed with acceptRecommendations');
    if (input.ownerId !== undefined) assertOwnerAccess(ctx.actor, input.ownerId.toLowerCase(), 'review item');
    const requested = input.items ?? [];
    const errors: FieldError[] = [];
    const firstIndex = new Map<string, number>();
    requested.forEach((entry, i) => {
      const id = entry.itemId.toLowerCase();
      const earlier = firstIndex.get(id);
      if (earlier !== undefined) errors.push({ field: `items[${i}].itemId`, message: `repeats items[${earlier}].itemId` });
      else firstIndex.set(id, i);
      errors.push(...decisionInputErrors(entry, `items[${i}].`));
    });
    if (errors.length) throw new InvalidInputError(errors);

    const decided = await this.dataSource.transaction(async (em) => {
      const campaign = await this.campaigns.lockForDecision(em, campaignId);
      if (!campaign) throw new NotFoundError('campaign', campaignId);
      if (campaign.status !== 'open') throw new CampaignClosedError(campaignId);
      const work = listed
        ? await this.listedWork(em, ctx, campaignId, requested, firstIndex)
        : await this.recommendedWork(em, ctx, campaignId, input.ownerId?.toLowerCase() ?? null);
      const out: Array<{ at: number; item: ReviewItemEntity; decision: ReviewDecision }> = [];
      for (const { at, field, item, decision } of [...work].sort((a, b) => (a.item.id < b.item.id ? -1 : 1))) {
        const result = await this.carryOut(em, ctx, campaign, item, decision).catch((error: unknown) => {
          throw namedFor(error, field);
        });
        out.push({ at, item: result.item, decision: decision.decision });
      }
      return out.sort((a, b) => a.at - b.at);
    });
    for (const { item, decision } of decided) if (item.outcome !== 'revoked_elsewhere') this.metrics.decisions.inc({ decision });
    return { decided: decided.length, items: decided.map(({ item }) => toItemView(item)) };
  }

  /** The listed items, locked; each must exist in the campaign, be the caller's to decide and be pending. */
  private async listedWork(
    em: EntityManager,
    ctx: RequestContext,
    campaignId: string,
    requested: BulkDecisionItem[],
    firstIndex: Map<string, number>,
  ): Promise<Work[]> {
    const locked = await this.items.lockManyForDecision(em, campaignId, [...firstIndex.keys()]);
    const byId = new Map(locked.map((item) => [item.id, item]));
    const errors: FieldError[] = [];
    const work: Work[] = [];
    for (const [i, entry] of requested.entries()) {
      const item = byId.get(entry.itemId.toLowerCase());
      if (!item) errors.push({ field: `items[${i}].itemId`, message: 'names no item of this campaign' });
      else work.push({ at: i, field: `items[${i}]`, item, decision: entry });
    }
    if (errors.length) throw new InvalidInputError(errors);
    for (const { field, item } of work) {
      try {
        assertOwnerAccess(ctx.actor, item.ownerId, 'review item');
      } catch (error) {
        throw namedFor(error, field);
      }
    }
    for (const { field, item } of work) {
      if (item.status !== 'pending') throw namedFor(new ItemAlreadyDecidedError(item.id, item.status), field);
    }
    return work;
  }

  /** Every pending item of the owner (or of the campaign), each with its recommendation as the decision. */
  private async recommendedWork(em: EntityManager, ctx: RequestContext, campaignId: string, ownerId: string | null): Promise<Work[]> {
    const owner = ctx.actor.role === 'owner' ? ctx.actor.ownerId! : ownerId;
    const pending = await this.items.lockPendingForDecision(em, campaignId, owner);
    if (pending.length > MAX_ACCEPTED_RECOMMENDATIONS) {
      throw new TooLargeError(
        'TOO_MANY_ITEMS',
        `${pending.length} items are pending; accept at most ${MAX_ACCEPTED_RECOMMENDATIONS} recommendations per call (name an ownerId, or list items).`,
        [{ field: 'acceptRecommendations', message: `would decide ${pending.length} items` }],
      );
    }
    return pending.map((item, at) => {
      const field = `acceptRecommendations (item ${item.id})`;
      if (!item.recommendation) {
        throw new ConflictError(
          'NO_RECOMMENDATION',
          `${field}: the item has no recommendation (its campaign opened before usage was recorded).`,
        );
      }
      const decision: DecisionInput =
        item.recommendation === 'reduce' ? { decision: 'reduce', scopes: item.recommendedScopes ?? [] } : { decision: item.recommendation };
      return { at, field, item, decision };
    });
  }

  /**
   * Carries out one decision on a locked, pending item of an open campaign,
   * in the caller's transaction, with its audit event: the one path every
   * decision takes (single or bulk).
   */
  private async carryOut(
    em: EntityManager,
    ctx: RequestContext,
    campaign: CampaignEntity,
    item: ReviewItemEntity,
    input: DecisionInput,
  ): Promise<{ item: ReviewItemEntity } | { item: ReviewItemEntity; conflict: CredentialRevokedElsewhereError }> {
    const campaignId = campaign.id;
    const itemId = item.id;
    const credential = await this.credentials.lockForChange(em, item.credentialId);
    const now = this.clock.now();
    if (credential.status === 'revoked') {
      Object.assign(item, { status: 'decided', outcome: 'revoked_elsewhere', scopesAfter: [], resolvedAt: now });
      await this.items.saveResolution(em, item);
      await this.audit.record(em, ctx, {
        action: 'review.revoked_elsewhere',
        targetType: 'review_item',
        targetId: itemId,
        data: { campaignId, credentialId: item.credentialId, revokedAt: credential.revokedAt?.toISOString() ?? null },
      });
      return { item, conflict: new CredentialRevokedElsewhereError(item.credentialId) };
    }
    if (credential.status !== 'active') throw new CredentialNotActiveError(credential.status);

    const review = { campaignId, itemId };
    let scopesAfter = credential.scopes;
    let revocationId: string | null = null;
    if (input.decision === 'reduce') {
      scopesAfter = (await this.credentials.reduceScopesInTransaction(em, ctx, item.credentialId, input.scopes!, review)).scopes;
    } else if (input.decision === 'revoke') {
      const revocation = await this.revocation.revokeInTransaction(
        em,
        ctx,
        [item.credentialId],
        `Access review "${campaign.name}" (${campaignId}): revoke decided`,
      );
      revocationId = revocation?.revocationId ?? null;
      scopesAfter = [];
    }
    Object.assign(item, {
      status: 'decided',
      decision: input.decision,
      decidedBy: ctx.actor.tokenId,
      decidedAt: now,
      comment: input.comment ?? null,
      outcome: OUTCOME_OF[input.decision],
      scopesAfter,
      resolvedAt: now,
    });
    await this.items.saveResolution(em, item);
    await this.audit.record(em, ctx, {
      action: 'review.decided',
      targetType: 'review_item',
      targetId: itemId,
      data: {
        campaignId,
        credentialId: item.credentialId,
        ownerId: item.ownerId,
        decision: input.decision,
        scopesBefore: credential.scopes,
        scopesAfter,
        comment: item.comment,
        revocationId,
      },
    });
    return { item };
  }

  /**
   * An owner attests to its decisions in a campaign once none of its items is
   * pending (an open campaign with everything decided, or a closed one: the
   * expired items are then part of what it attests). The attestation carries
   * the SHA-256 of the canonical list of those decisions.
   */
  async signOff(ctx: RequestContext, campaignId: string, statement: string | undefined): Promise<SignoffDto> {
    const ownerId = ctx.actor.ownerId;
    if (ctx.actor.role !== 'owner' || !ownerId) {
      throw new ForbiddenError('OWNER_ONLY', 'Only an owner token signs off its own decisions.');
    }
    try {
      return await this.dataSource.transaction(async (em) => {
        const campaign = await this.campaigns.lockForDecision(em, campaignId);
        if (!campaign) throw new NotFoundError('campaign', campaignId);
        const items = await this.items.ofOwner(em, campaignId, ownerId);
        if (items.length === 0) throw new NothingToSignOffError();
        const pending = items.filter((i) => i.status === 'pending').length;
        if (pending > 0) throw new ItemsPendingError(pending);
        if (await this.campaigns.signoffExists(em, campaignId, ownerId)) throw new AlreadySignedOffError();

        const signoff: CampaignSignoffEntity = {
          id: this.random.uuid(),
          campaignId,
          ownerId,
          signedBy: ctx.actor.tokenId,
          signedAt: this.clock.now(),
          statement: statement ?? DEFAULT_SIGNOFF_STATEMENT,
          itemCount: items.length,
          decisionsSha256: decisionsSha256(items.map(toAttestedDecision)),
        };
        await this.campaigns.insertSignoff(em, signoff);
        await this.audit.record(em, ctx, {
          action: 'campaign.signed_off',
          targetType: 'campaign',
          targetId: campaignId,
          data: {
            ownerId,
            itemCount: signoff.itemCount,
            decisionsSha256: signoff.decisionsSha256,
            statement: signoff.statement,
            campaignStatus: campaign.status,
          },
        });
        return toSignoffView(signoff);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new AlreadySignedOffError();
      throw error;
    }
  }

  /** The sign-offs of a campaign, by owner id. */
  async signoffs(campaignId: string): Promise<SignoffDto[]> {
    return (await this.campaigns.signoffsOf(campaignId)).map(toSignoffView);
  }
}

/** One decision's field errors (reduce needs scopes; only reduce takes them), each field under `prefix`. */
function decisionInputErrors(input: DecisionInput, prefix: string): FieldError[] {
  if (input.decision === 'reduce' && !input.scopes) {
    return [{ field: `${prefix}scopes`, message: 'is required for reduce: the scopes to keep' }];
  }
  if (input.decision !== 'reduce' && input.scopes !== undefined) {
    return [{ field: `${prefix}scopes`, message: 'is only allowed with decision reduce' }];
  }
  return [];
}

function checkDecisionInput(input: DecisionInput, prefix: string): void {
  const [error] = decisionInputErrors(input, prefix);
  if (error) throw InvalidInputError.field(error.field, error.message);
}

/**
 * A domain error of one item of a bulk call, its fields (or the item itself)
 * named under `field` (`items[3]`), so the caller knows which entry failed.
 */
function namedFor(error: unknown, field: string): unknown {
  if (!(error instanceof DomainError)) return error;
  const errors = error.errors.length
    ? error.errors.map((e) => ({ field: `${field}.${e.field}`, message: e.message }))
    : [{ field: field.startsWith('items[') ? `${field}.itemId` : field, message: error.message }];
  return new DomainError(error.kind, error.code, `${field}: ${error.message}`, errors);
}
