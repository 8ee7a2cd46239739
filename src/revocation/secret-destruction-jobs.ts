export enum RevocationQueue {
  SecretDestruction = 'secret-destruction',
}

export enum SecretDestructionJobName {
  Destroy = 'destroy',
}

export interface SecretDestructionJob {
  revocationId: string;
  /** The credential; in a batch, the first of them. */
  credentialId: string;
  /**
   * A batch: every credential of one revocation chunk whose secret is in one
   * store (credentialId is the first). Absent for one credential.
   */
  credentialIds?: string[];
}

/**
 * Deterministic: `destroy:<revocationId>:<credentialId>`, and for a batch
 * `destroy:<revocationId>:<first credentialId>-<count>` (BullMQ takes a custom
 * id with colons only as three parts).
 */
export function secretDestructionJobId(job: SecretDestructionJob): string {
  const id = `destroy:${job.revocationId}:${job.credentialId}`;
  return job.credentialIds && job.credentialIds.length > 1 ? `${id}-${job.credentialIds.length}` : id;
}

/**
 * How long the job sweep leaves the rows of a batch job alone before it adds
 * a job of their own for each (when the batch's job went missing: a crash
 * between commit and enqueue, a Redis flush). One credential's job has the
 * same id as the sweep's, so it needs no such wait; a batch's has not, and
 * without it a sweep passing while the batch runs would add a job per credential.
 */
export const BATCH_SWEEP_GRACE_MS = 60_000;

/** Credentials one batch job carries at most. */
export const DESTRUCTION_BATCH = 1000;

/** 5 s, 10 s, 20 s, ... up to 15 minutes between attempts; it keeps trying until the store confirms. */
export function secretDestructionBackoffMs(failures: number): number {
  return Math.min(5000 * 2 ** Math.max(0, failures - 1), 15 * 60 * 1000);
}
