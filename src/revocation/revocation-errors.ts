import { DomainError, InvalidInputError, TooLargeError } from '../common/errors/domain-error';

/** The revocation module's domain errors, each defined once. */

/** The most credentials one bulk revocation revokes. */
export const MAX_BULK_REVOCATION = 100_000;

/** 400: a bulk revocation with an empty filter would revoke everything; at least one field is required. */
export class EmptyRevocationFilterError extends InvalidInputError {
  constructor() {
    super(
      [
        {
          field: 'filter',
          message: 'must name at least one of credentialIds, agentIds, ownerId, environment, scopes, products, createdBefore, secretStore',
        },
      ],
      'filter must name at least one field: an empty filter would revoke every credential.',
    );
  }
}

/** 422: the filter matches more credentials than one bulk revocation revokes; nothing was revoked. */
export class TooManyMatchesError extends TooLargeError {
  constructor(readonly count: number) {
    super(
      'TOO_MANY_MATCHES',
      `The filter matches ${count} credentials; one bulk revocation revokes at most ${MAX_BULK_REVOCATION}. Narrow the filter; nothing was revoked.`,
      [{ field: 'filter', message: `matches ${count} credentials (at most ${MAX_BULK_REVOCATION})` }],
    );
  }
}

/** 404: no active or pending credential matches the filter, so there is nothing to revoke. */
export class NoMatchingCredentialsError extends DomainError {
  constructor() {
    super('not_found', 'NO_MATCHING_CREDENTIALS', 'No active or pending credential matches the filter; nothing was revoked.', [
      { field: 'filter', message: 'matches no active or pending credential' },
    ]);
  }
}
