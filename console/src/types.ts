/** The /v1 shapes the console reads (API.md of the service; extra fields ignored). */
export type Role = 'admin' | 'owner' | 'responder' | 'auditor';

export interface Session {
  role: Role;
  ownerId: string | null;
  tokenName: string;
  tokenId: string;
  csrfToken: string;
  expiresAt: string;
}

export interface Credential {
  id: string;
  clientId: string;
  agentId: string;
  ownerId: string;
  type: string;
  environment: string;
  scopes: string[];
  rateLimit: { requests: number; perSeconds: number };
  ipAllowlist: string[];
  secretVersion: number | null;
  status: string;
  lastRotatedAt: string | null;
  nextRotationAt: string | null;
  lastUsedAt: string | null;
  createdAt: string;
  revokedAt: string | null;
  revokedReason: string | null;
  requestedBy: string;
  approvedBy: string | null;
  gracePeriodHours?: number;
  /** A change of an active credential that awaits approval (it adds a delete/admin scope); the current values stay in force. */
  pendingChange?: PendingChange | null;
}

export interface PendingChange {
  scopes?: string[];
  rateLimit?: { requests: number; perSeconds: number };
  ipAllowlist?: string[];
  rotationIntervalDays?: number;
  gracePeriodHours?: number;
  requestedBy: string;
  requestedAt: string;
  status: 'pending_approval';
}

export interface Agent {
  id: string;
  name: string;
  ownerId: string;
  status: string;
  description?: string | null;
}

export interface Product {
  id: string;
  name: string;
  operations: string[];
}

export interface Rotation {
  id: string;
  step: string;
  status: string;
  fromVersion: number;
  toVersion: number;
  startedAt: string;
  completedAt: string | null;
  graceEndsAt: string | null;
  retiredAt: string | null;
  error: string | null;
  credentialId?: string;
}

export interface Revocation {
  id: string;
  credentialIds: string[];
  agentId: string | null;
  reason: string;
  revokedAt: string;
  status: 'propagating' | 'complete' | 'failed';
  /** One row per gateway, summarised over the revocation's deliveries (one per revoked credential). */
  deliveries: Array<{
    gatewayId: string;
    status: string;
    total: number;
    delivered: number;
    pending: number;
    failed: number;
    attempts: number;
    deliveredAt: string | null;
    lastError: string | null;
  }>;
}

export interface Campaign {
  id: string;
  name: string;
  status: string;
  environment: string | null;
  dueAt: string;
  itemCount: number;
  onExpiry: string;
  openedAt: string;
  closedAt: string | null;
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

export interface CampaignProgress extends Campaign {
  decidedCount: number;
  pendingCount: number;
  owners: OwnerProgress[];
}

export interface ReviewItem {
  id: string;
  campaignId: string;
  credentialId: string;
  ownerId: string;
  status: string;
  decision: string | null;
  decidedAt: string | null;
  comment: string | null;
  riskFlags: string[];
  snapshot: {
    scopes: string[];
    environment: string;
    lastUsedAt: string | null;
    lastRotatedAt: string | null;
    clientId: string;
    agentId: string;
    agentName: string;
    rateLimit: { requests: number; perSeconds: number };
    ipAllowlist: string[];
  };
  /** Usage when the campaign opened; null (or absent) for campaigns opened before usage was recorded. */
  usage?: {
    calls30d: number;
    calls90d: number;
    denied90d: number;
    lastUsedAt: string | null;
    scopesUsed90d: string[];
  } | null;
  recommendation?: { decision: 'keep' | 'reduce' | 'revoke'; scopes?: string[]; reason: string } | null;
}

export interface Signoff {
  signedAt: string;
  decisionsSha256: string;
  statement: string;
}

export interface Gateway {
  id: string;
  name: string;
  url: string;
  environments: string[];
  status: string;
  signingSecretVersion: number;
  signingSecretRotatedAt: string | null;
}

export interface Delivery {
  id: string;
  eventType: string;
  gatewayId: string | null;
  credentialId: string | null;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  lastAttemptAt: string | null;
  deliveredAt: string | null;
  createdAt: string;
}

export interface Token {
  id: string;
  name: string;
  role: Role;
  ownerId: string | null;
  createdAt: string;
  revokedAt: string | null;
}

export interface AuditEvent {
  id: string;
  seq: number;
  at: string;
  actor: { tokenId: string; role: string } | string;
  action: string;
  targetType: string;
  targetId: string;
  requestId: string;
  data: unknown;
}

export interface UsageBucket {
  start: string;
  calls: number;
  denied: number;
  byScope: Record<string, number>;
  distinctIps: number;
}

export interface CredentialUsage {
  lastUsedAt: string | null;
  lastUsedIp: string | null;
  granularity: 'hour' | 'day';
  from: string;
  to: string;
  buckets: UsageBucket[];
  topIps: Array<{ ip: string; calls: number }>;
}

export interface UsageEvent {
  id: string;
  at: string;
  credentialId: string;
  clientId: string;
  source: string;
  gatewayId: string | null;
  method: string | null;
  path: string | null;
  scope: string | null;
  statusCode: number | null;
  ip: string | null;
  requestId: string | null;
  outcome: string;
  denyCode: string | null;
}

export interface LeakAnswer {
  matched: boolean;
  secretSha256: string;
  credentialId?: string;
  version?: number;
  current?: boolean;
  versionState?: 'current' | 'grace' | 'pending' | 'retired' | 'revoked';
  actionTaken: 'revoked' | 'rotated' | 'none';
  revocationId?: string;
  rotationId?: string;
  alertId?: string;
}

export interface RevocationListItem {
  id: string;
  agentId: string | null;
  ownerId: string | null;
  reason: string;
  actor: { tokenId: string; role: string; ownerId: string | null };
  revokedAt: string;
  credentialCount: number;
  status: 'propagating' | 'complete' | 'failed';
}

export interface Owner {
  id: string;
  name: string;
}

export interface Alert {
  id: string;
  type: string;
  severity: 'low' | 'medium' | 'high';
  status: 'open' | 'acknowledged' | 'resolved';
  credentialId: string;
  agentId: string;
  ownerId: string;
  firstSeenAt: string;
  lastSeenAt: string;
  count: number;
  evidence: Record<string, unknown>;
  action: { type: 'rotate' | 'revoke'; at: string; rotationId?: string; revocationId?: string; skipped?: string } | null;
  acknowledgedAt?: string | null;
  resolvedAt?: string | null;
  resolutionNote?: string | null;
}
