export enum RevocationQueue {
  SecretDestruction = 'secret-destruction',
}

export enum SecretDestructionJobName {
  Destroy = 'destroy',
}

export interface SecretDestructionJob {
  revocationId: string;
  credentialId: string;
}

/** Deterministic: `destroy:<revocationId>:<credentialId>`. */
export function secretDestructionJobId(job: SecretDestructionJob): string {
  return `destroy:${job.revocationId}:${job.credentialId}`;
}

/** 5 s, 10 s, 20 s, ... up to 15 minutes between attempts; it keeps trying until the store confirms. */
export function secretDestructionBackoffMs(failures: number): number {
  return Math.min(5000 * 2 ** Math.max(0, failures - 1), 15 * 60 * 1000);
}
