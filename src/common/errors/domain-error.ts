/**
 * Errors the domain raises. They carry a stable code and a kind, never an HTTP
 * status: the problem+json filter maps kinds to statuses, and jobs that call the
 * same services can branch on `code` without knowing about HTTP.
 */
export type DomainErrorKind = 'invalid' | 'unauthenticated' | 'forbidden' | 'not_found' | 'conflict' | 'too_large' | 'unavailable';

export interface FieldError {
  field: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    readonly code: string,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input: 400, naming the field. */
export class InvalidInputError extends DomainError {
  constructor(errors: FieldError[], message = 'The request has invalid fields.') {
    super('invalid', 'VALIDATION_FAILED', message, errors);
  }

  static field(field: string, message: string): InvalidInputError {
    return new InvalidInputError([{ field, message }], `${field} ${message}`);
  }
}

export class NotFoundError extends DomainError {
  constructor(resource: string, id?: string) {
    super(
      'not_found',
      `${resource.toUpperCase().replace(/[^A-Z]+/g, '_')}_NOT_FOUND`,
      id ? `${resource} ${id} was not found.` : `${resource} was not found.`,
    );
  }
}

export class ConflictError extends DomainError {
  constructor(code: string, message: string) {
    super('conflict', code, message);
  }
}

export class ForbiddenError extends DomainError {
  constructor(code: string, message: string) {
    super('forbidden', code, message);
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(message = 'A valid bearer token is required.') {
    super('unauthenticated', 'UNAUTHENTICATED', message);
  }
}

/** Well-formed, but asks for more than one call may do (a bulk change over too many rows): 422, nothing was changed. */
export class TooLargeError extends DomainError {
  constructor(code: string, message: string, errors: FieldError[] = []) {
    super('too_large', code, message, errors);
  }
}

/** A dependency (secret store, Redis) cannot do its part now: 503, nothing was changed. */
export class DependencyUnavailableError extends DomainError {
  constructor(code: string, message: string) {
    super('unavailable', code, message);
  }
}
