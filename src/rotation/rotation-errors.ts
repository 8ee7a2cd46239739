import { ConflictError } from '../common/errors/domain-error';

/** 409: a rotation of this credential is running; the partial unique index `rotations_one_running_key` guarantees it. */
export class RotationInProgressError extends ConflictError {
  constructor(rotationId?: string) {
    super(
      'ROTATION_IN_PROGRESS',
      rotationId
        ? `Rotation ${rotationId} of this credential is running; wait for it to finish.`
        : 'A rotation of this credential is running; wait for it to finish.',
    );
  }
}

export class RotationNotFailedError extends ConflictError {
  constructor(status: string) {
    super('ROTATION_NOT_FAILED', `This rotation is ${status}; only a failed rotation can be retried.`);
  }
}

/** Inside a step: the credential was revoked meanwhile. The rotation stops and destroys its pending version. */
export class RevokedDuringRotation extends Error {
  constructor() {
    super('the credential was revoked during the rotation');
    this.name = 'RevokedDuringRotation';
  }
}

/** Inside a step: another run of the same rotation recorded this step first; reload and carry on from there. */
export class StepAlreadyTaken extends Error {
  constructor(step: string) {
    super(`step ${step} was recorded by another run`);
    this.name = 'StepAlreadyTaken';
  }
}

/** The store returned a secret for the new version whose hash is not the one written. */
export class VerificationMismatch extends Error {
  constructor(version: number) {
    super(`the store returned version ${version} with a SHA-256 other than the one written`);
    this.name = 'VerificationMismatch';
  }
}

/** The credential is no longer at the version this rotation started from (not expected: one rotation runs at a time). */
export class CredentialMoved extends Error {
  constructor(reason: string) {
    super(`the credential cannot take this rotation's version: ${reason}`);
    this.name = 'CredentialMoved';
  }
}
