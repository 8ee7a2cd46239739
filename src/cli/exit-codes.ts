/**
 * The exit codes of `agc`, documented in docs/incident-response.md. Zero only
 * when the action completed (with --wait: every gateway acknowledged); each
 * failure has its own code so a runbook script can branch on it.
 */
export const ExitCode = {
  /** The action completed. */
  Ok: 0,
  /** Anything unexpected: the service unreachable, a 5xx answer, an answer that is not JSON. */
  Failure: 1,
  /** Bad arguments or environment (missing AGC_TOKEN, a secret passed as an argument, empty standard input). */
  Usage: 2,
  /** The service refused the token (401) or its role may not do this (403). */
  Auth: 3,
  /** What was named does not exist, or nothing matched (404; a leak that matches no credential). */
  NotFound: 4,
  /** --wait ran out of time (or, without --wait, `status` found the revocation still propagating). */
  Timeout: 5,
  /** Some gateway gave up on a delivery: the revocation is in force here but not acknowledged everywhere. */
  PartialFailure: 6,
  /** The service refused the request as it was written (400, 409, 413, 415, 422). */
  Refused: 7,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends the program with `code` after printing `message` (to standard error). */
export class CliError extends Error {
  constructor(
    readonly code: ExitCodeValue,
    message: string,
  ) {
    super(message);
  }
}
