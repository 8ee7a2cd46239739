export enum RevocationQueue {
  SecretDestruction = 'secret-destruction',
}

export enum SecretDestructionJobName {
  Destroy = 'destroy',
}

export interface SecretDestructionJob {
  /** The revocation of `credentialId` (in a batch, the first credential's: the others may be other revocations'). */
  revocationId: string;
  /** The credential; in a batch, the first of them. */
  credentialId: string;
  /**
   * A batch: every credential of one commit whose secret is in one store (a
   * bulk revocation's chunk, or the single revocations one group commit
   * carried), credentialId first. Absent for one credential.
   */
  credentialIds?: string[];
}

/** A credential whose secret a revocation destroys, and its store. */
export interface DestructionToSchedule {
  revocationId: string;
  credentialId: string;
  secretStore: string;
}

/**
 * The jobs that destroy the secrets one commit revoked: one per store, of up
 * to DESTRUCTION_BATCH credentials, whatever the number of revocations the
 * commit carried (three BullMQ scripts a job, not three a credential); a
 * store with one credential gets that credential's own job, under the id the
 * job sweep gives it.
 */
export function destructionJobsOf(destructions: DestructionToSchedule[]): SecretDestructionJob[] {
  const byStore = new Map<string, DestructionToSchedule[]>();
  for (const d of destructions) {
    const group = byStore.get(d.secretStore);
    if (group) group.push(d);
    else byStore.set(d.secretStore, [d]);
  }
  const jobs: SecretDestructionJob[] = [];
  for (const group of byStore.values()) {
    for (let i = 0; i < group.length; i += DESTRUCTION_BATCH) {
      const slice = group.slice(i, i + DESTRUCTION_BATCH);
      const { revocationId, credentialId } = slice[0];
      jobs.push(
        slice.length === 1
          ? { revocationId, credentialId }
          : { revocationId, credentialId, credentialIds: slice.map((d) => d.credentialId) },
      );
    }
  }
  return jobs;
}

/**
 * Deterministic: `destroy:<revocationId>:<credentialId>`, and for a batch
 * `destroy:<revocationId>:<first credentialId>-<count>` (BullMQ takes a custom
 * id with colons only as three parts). A credential is in one batch only, so
 * its first credential and count name the batch.
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
