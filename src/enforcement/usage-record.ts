import type { UsageEventRecord } from '../usage/usage-event-sink';

/** One verification of a key that belongs to a credential. Never the key. */
export interface UsageRecord {
  credentialId: string;
  at: Date;
  scope: string | null;
  /** The verification's code: VALID, or why it was refused. */
  code: string;
  ip: string | null;
  /** The key was a valid version of the credential (the call may still be refused by scope, address or rate): it counts as a use. */
  authenticated: boolean;
  /** The per-call record of this call (written through the usage sink); absent: counted in the rollups only. */
  call?: UsageEventRecord;
  /** The version of the credential the presented key is, when known (verification of a key). */
  version?: number;
}
