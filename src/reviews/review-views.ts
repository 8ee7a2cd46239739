import type { AttestedDecision } from './decisions-digest';
import type { CampaignDto, ScheduleDto } from './dto/campaign.dto';
import type { ReviewItemDto, SignoffDto } from './dto/review-item.dto';
import type { CampaignEntity } from './entities/campaign.entity';
import type { CampaignScheduleEntity } from './entities/campaign-schedule.entity';
import type { CampaignSignoffEntity } from './entities/campaign-signoff.entity';
import type { ReviewItemEntity } from './entities/review-item.entity';
import type { RiskFlag } from './risk-flags';
import { currentPeriod, periodStart } from './schedule-period';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toCampaignView(c: CampaignEntity): CampaignDto {
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    environment: c.environment,
    ownerIds: c.ownerIds,
    onExpiry: c.onExpiry,
    dueAt: c.dueAt.toISOString(),
    itemCount: c.itemCount,
    scheduleId: c.scheduleId,
    schedulePeriod: c.schedulePeriod,
    openedBy: c.openedBy,
    openedAt: c.createdAt.toISOString(),
    closedAt: iso(c.closedAt),
    closedBy: c.closedBy,
    closeReason: c.closeReason,
    createdAt: c.createdAt.toISOString(),
  };
}

export function toItemView(i: ReviewItemEntity): ReviewItemDto {
  return {
    id: i.id,
    campaignId: i.campaignId,
    credentialId: i.credentialId,
    ownerId: i.ownerId,
    status: i.status,
    decision: i.decision,
    decidedBy: i.decidedBy,
    decidedAt: iso(i.decidedAt),
    comment: i.comment,
    riskFlags: i.riskFlags as RiskFlag[],
    snapshot: {
      scopes: i.scopes,
      rateLimit: { requests: i.rateLimitRequests, perSeconds: i.rateLimitPerSeconds },
      ipAllowlist: i.ipAllowlist,
      environment: i.environment,
      lastUsedAt: iso(i.lastUsedAt),
      lastRotatedAt: iso(i.lastRotatedAt),
      nextRotationAt: iso(i.nextRotationAt),
      clientId: i.clientId,
      agentId: i.agentId,
      agentName: i.agentName,
    },
    usage:
      i.calls90d === null
        ? null
        : {
            calls30d: i.calls30d ?? 0,
            calls90d: i.calls90d,
            denied90d: i.denied90d ?? 0,
            lastUsedAt: iso(i.lastUsedAt),
            scopesUsed90d: i.scopesUsed90d ?? [],
          },
    recommendation:
      i.recommendation === null
        ? null
        : {
            decision: i.recommendation,
            ...(i.recommendedScopes ? { scopes: i.recommendedScopes } : {}),
            reason: i.recommendationReason ?? '',
          },
    outcome: i.outcome,
    scopesAfter: i.scopesAfter,
    resolvedAt: iso(i.resolvedAt),
    createdAt: i.createdAt.toISOString(),
  };
}

/** What an owner's sign-off covers of one item (see decisions-digest.ts). */
export function toAttestedDecision(i: ReviewItemEntity): AttestedDecision {
  return {
    itemId: i.id,
    credentialId: i.credentialId,
    status: i.status,
    decision: i.decision,
    scopesBefore: i.scopes,
    scopesAfter: i.scopesAfter,
    outcome: i.outcome,
    decidedBy: i.decidedBy,
    decidedAt: iso(i.decidedAt),
    comment: i.comment,
  };
}

export function toSignoffView(s: CampaignSignoffEntity): SignoffDto {
  return {
    campaignId: s.campaignId,
    ownerId: s.ownerId,
    signedBy: s.signedBy,
    signedAt: s.signedAt.toISOString(),
    statement: s.statement,
    itemCount: s.itemCount,
    decisionsSha256: s.decisionsSha256,
  };
}

export function toScheduleView(s: CampaignScheduleEntity, now: Date): ScheduleDto {
  const period = currentPeriod(s.startsAt, s.everyDays, now);
  return {
    id: s.id,
    name: s.name,
    everyDays: s.everyDays,
    environment: s.environment,
    ownerIds: s.ownerIds,
    dueInDays: s.dueInDays,
    onExpiry: s.onExpiry,
    startsAt: s.startsAt.toISOString(),
    nextPeriodAt: periodStart(s.startsAt, s.everyDays, period === null ? 0 : period + 1).toISOString(),
    createdBy: s.createdBy,
    createdAt: s.createdAt.toISOString(),
  };
}
