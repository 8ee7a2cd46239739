export const ALERT_TYPES = [
  'ip_not_allowed',
  'auth_failures',
  'retired_key_used',
  'volume_spike',
  'dormant_reactivated',
  'new_network',
] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

export const ALERT_SEVERITIES = ['low', 'medium', 'high'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export const ALERT_STATUSES = ['open', 'acknowledged', 'resolved'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

export const POLICY_ACTIONS = ['none', 'rotate', 'revoke'] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

/** Each type's severity, as the contract gives it (a leak report's `retired_key_used` is high like any other). */
export const SEVERITY_OF: Readonly<Record<AlertType, AlertSeverity>> = {
  ip_not_allowed: 'high',
  auth_failures: 'medium',
  retired_key_used: 'high',
  volume_spike: 'medium',
  dormant_reactivated: 'medium',
  new_network: 'low',
};

/** What an alert's policy did, recorded once on the alert. */
export interface AlertAction {
  type: 'rotate' | 'revoke';
  at: string;
  rotationId?: string;
  revocationId?: string;
  /** Why nothing was done (the credential already revoked, a rotation already running, ...). */
  skipped?: string;
}

/**
 * One sighting of an anomaly, as detection hands it to AlertsService.raise:
 * it opens an alert, or counts into the open one of its type and credential.
 * `evidence` describes the latest sighting; never a key or secret (addresses,
 * counts, codes, versions, SHA-256s).
 */
export interface AlertOccurrence {
  type: AlertType;
  credentialId: string;
  agentId: string;
  ownerId: string;
  /** When it was seen (the latest call it stands for). */
  at: Date;
  /** When it started (the earliest call it stands for); `at` if absent. */
  firstAt?: Date;
  /** How many sightings this stands for (calls, windows, networks). */
  count: number;
  evidence: Record<string, unknown>;
  /** How many detected sightings were coalesced into this one while it waited to be raised (src/alerts/alert-backlog.ts); 1 if absent. */
  coalesced?: number;
}

/** The days after which a credential counts as dormant, and a network as unseen. */
export const DORMANT_DAYS = 30;
export const NETWORK_MEMORY_DAYS = 30;
/** A volume spike: the hour's calls above this many times the median hour of the week before. */
export const SPIKE_FACTOR = 5;
export const SPIKE_BASELINE_HOURS = 7 * 24;
