import type { SecretStoreName } from '../config/app-config';

/**
 * One queue per secret store, so each store has its own rate limit (a BullMQ
 * limiter): a burst of due Vault credentials never slows local ones, and
 * neither floods Vault or AWS.
 */
export function rotationQueueName(store: SecretStoreName): string {
  return `rotation-${store}`;
}

export enum RotationJobName {
  /** Runs a rotation's steps from the one it recorded, up to promotion. */
  Rotate = 'rotate',
  /** At the end of the grace period: destroys the previous version, publishes credential.version_retired. */
  Retire = 'retire',
}

export interface RotateJob {
  rotationId: string;
  credentialId: string;
  toVersion: number;
}

export interface RetireJob {
  rotationId: string;
  credentialId: string;
  /** The version being retired (the rotation's fromVersion). */
  version: number;
}

export interface RotationJobs {
  [RotationJobName.Rotate]: RotateJob;
  [RotationJobName.Retire]: RetireJob;
}

export type RotationJobData = RotateJob | RetireJob;

/** Deterministic: `rotate:<credentialId>:<toVersion>`; a version is rotated to once. */
export function rotateJobId(job: Pick<RotateJob, 'credentialId' | 'toVersion'>): string {
  return `rotate:${job.credentialId}:${job.toVersion}`;
}

/** Deterministic: `retire:<credentialId>:<version>`. */
export function retireJobId(job: Pick<RetireJob, 'credentialId' | 'version'>): string {
  return `retire:${job.credentialId}:${job.version}`;
}

/**
 * A step failed in a way worth another try; the worker's backoff strategy
 * turns `delayMs` (decided and recorded in Postgres) into BullMQ's delay, so
 * the job id stays the same.
 */
export class RetryLaterError extends Error {
  constructor(
    readonly delayMs: number,
    reason: string,
  ) {
    super(`${reason}; next try in ${delayMs} ms`);
    this.name = 'RetryLaterError';
  }
}
