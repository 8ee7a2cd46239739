import type { CampaignScheduleEntity } from './entities/campaign-schedule.entity';
import type { CampaignSignoffEntity } from './entities/campaign-signoff.entity';
import type { CampaignEntity, CampaignStatus, CloseReason, ExpiryAction } from './entities/campaign.entity';
import type { ReviewDecision, ReviewItemEntity, ReviewItemStatus, ReviewOutcome } from './entities/review-item.entity';
import type { AttestedDecision } from './decisions-digest';
import type { RiskFlag } from './risk-flags';
import { periodStart, currentPeriod } from './schedule-period';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export interface CampaignView {
  id: string;
  name: string;
  status: CampaignStatus;
  environment: string | null;
  ownerIds: string[] | null;
  onExpiry: ExpiryAction;
  dueAt: string;
  itemCount: number;
  scheduleId: string | null;
  schedulePeriod: number | null;
  openedBy: string;
  openedAt: string;
  closedAt: string | null;
  closedBy: string | null;
  closeReason: CloseReason | null;
  createdAt: string;
}

export interface OwnerProgress {
  ownerId: string;
  total: number;
  decided: number;
  expired: number;
  pending: number;
  signedOffAt: string | null;
  decisionsSha256: string | null;
}

export interface CampaignProgress extends CampaignView {
  decidedCount: number;
  expiredCount: number;
  pendingCount: number;
  owners: OwnerProgress[];
}

export interface ReviewItemView {
  id: string;
  campaignId: string;
  credentialId: string;
  ownerId: string;
  status: ReviewItemStatus;
  decision: ReviewDecision | null;
  decidedBy: string | null;
  decidedAt: string | null;
  comment: string | null;
  riskFlags: RiskFlag[];
  snapshot: {
    scopes: string[];
    rateLimit: { requests: number; perSeconds: number };
    ipAllowlist: string[];
    environment: string;
    lastUsedAt: string | null;
    lastRotatedAt: string | null;
    nextRotationAt: string | null;
    clientId: string;
    agentId: string;
    agentName: string;
  };
  outcome: ReviewOutcome | null;
  scopesAfter: string[] | null;
  resolvedAt: string | null;
  createdAt: string;
}

export interface SignoffView {
  campaignId: string;
  ownerId: string;
  signedBy: string;
  signedAt: string;
  statement: string;
  itemCount: number;
  decisionsSha256: string;
}

export interface ScheduleView {
  id: string;
  name: string;
  everyDays: number;
  environment: string | null;
  ownerIds: string[] | null;
  dueInDays: number;
  onExpiry: ExpiryAction;
  startsAt: string;
  nextPeriodAt: string;
  createdBy: string;
  createdAt: string;
}

export function toCampaignView(c: CampaignEntity): CampaignView {
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

export function toItemView(i: ReviewItemEntity): ReviewItemView {
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

export function toSignoffView(s: CampaignSignoffEntity): SignoffView {
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

export function toScheduleView(s: CampaignScheduleEntity, now: Date): ScheduleView {
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
