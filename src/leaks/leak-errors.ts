import { ConflictError, DomainError, UnauthenticatedError } from '../common/errors/domain-error';

/**
 * 409: the reported secret is the new version of an unfinished rotation.
 * Rotating would finish that rotation and make the leaked secret current;
 * revoke the credential instead.
 */
export class LeakedVersionPendingError extends ConflictError {
  constructor(version: number) {
    super(
      'LEAKED_VERSION_PENDING',
      `The reported secret is version ${version}, the pending version of an unfinished rotation; rotating would make it current. Revoke the credential instead.`,
    );
  }
}

/** 404: GITHUB_SECRET_SCANNING_KEYS_FILE is not set, so the GitHub partner endpoint is off. */
export class GithubSecretScanningOffError extends DomainError {
  constructor() {
    super(
      'not_found',
      'GITHUB_SECRET_SCANNING_OFF',
      'The GitHub secret scanning endpoint is off: GITHUB_SECRET_SCANNING_KEYS_FILE is not set.',
    );
  }
}

/** 401: the GitHub secret scanning request is not signed by a key GitHub publishes. */
export class GithubSignatureError extends UnauthenticatedError {
  constructor(why: string) {
    super(`The request is not signed by GitHub: ${why}.`);
  }
}
