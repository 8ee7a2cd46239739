import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { assertOwnerAccess, RequestContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { isUniqueViolation } from '../common/db/pg-errors';
import { ForbiddenError, InvalidInputError, NotFoundError } from '../common/errors/domain-error';
import { RandomSource } from '../common/random/random-source';
import { CredentialsService } from '../inventory/credentials.service';
import { CredentialNotActiveError } from '../inventory/inventory-errors';
import { RevocationService } from '../revocation/revocation.service';
import { CampaignsRepository } from './campaigns.repository';
import { decisionsSha256 } from './decisions-digest';
import type { ReviewItemDto, SignoffDto } from './dto/review-item.dto';
import { CampaignSignoffEntity } from './entities/campaign-signoff.entity';
import { ReviewDecision, ReviewOutcome } from './entities/review-item.entity';
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
    if (input.decision === 'reduce' && !input.scopes) {
      throw InvalidInputError.field('scopes', 'is required for reduce: the scopes to keep');
    }
    if (input.decision !== 'reduce' && input.scopes !== undefined) {
      throw InvalidInputError.field('scopes', 'is only allowed with decision reduce');
    }
    const result = await this.dataSource.transaction(async (em) => {
      const campaign = await this.campaigns.lockForDecision(em, campaignId);
      if (!campaign) throw new NotFoundError('campaign', campaignId);
      const item = await this.items.lockForDecision(em, campaignId, itemId);
      if (!item) throw new NotFoundError('review item', itemId);
      assertOwnerAccess(ctx.actor, item.ownerId, 'review item');
      if (campaign.status !== 'open') throw new CampaignClosedError(campaignId);
      if (item.status !== 'pending') throw new ItemAlreadyDecidedError(itemId, item.status);

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
        return { conflict: new CredentialRevokedElsewhereError(item.credentialId) };
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
    });
    if ('conflict' in result) throw result.conflict;
    this.metrics.decisions.inc({ decision: input.decision });
    return toItemView(result.item);
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
