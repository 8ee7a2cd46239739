import { createHash } from 'node:crypto';

import { DomainError, FieldError } from '../errors/domain-error';

/**
 * What a secret or token of this service looks like, defined once for every
 * guard: request validation (free text is redacted, other fields refused),
 * the audit log and the event outbox (last lines of defence), and the log
 * scrubber.
 *
 * - credential secrets: `agk_live_` / `agk_test_` + base62 (inventory/credential-secret.ts);
 * - API tokens: `agt_` + base64url (auth/tokens.service.ts; `agt_dev_…` for the generated dev admin token);
 * - gateway signing secrets: `whsec_` + base64 (gateways/webhook-signature.ts).
 *
 * The shortest real one has 43 characters after its prefix; a prefix followed
 * by at least 16 of its alphabet counts as secret-shaped (a truncated paste
 * still leaks most of a key), shorter runs (`agt_x`, "the agt_ prefix") do not.
 */
export const SECRET_PREFIXES = ['agk_live_', 'agk_test_', 'agt_', 'whsec_'] as const;

/** Characters a secret's body may hold after each prefix: base62/base64url, and base64 for `whsec_`. */
const BODY = {
  key: 'A-Za-z0-9_-',
  whsec: 'A-Za-z0-9+/=_-',
};

/** The shortest run after a prefix that counts as secret-shaped. */
export const MIN_SECRET_BODY = 16;

function pattern(minBody: number): RegExp {
  const min = `{${minBody},}`;
  return new RegExp(`(agk_(?:live|test)_|agt_)[${BODY.key}]${min}|(whsec_)[${BODY.whsec}]${min}`, 'g');
}

/** Secret-shaped runs, anywhere in a string (global: use with replace/matchAll, or through the helpers below). */
const SECRET_SHAPED = pattern(MIN_SECRET_BODY);

/**
 * Any of our prefixes followed by anything of a secret's alphabet, however
 * short: what the log scrubber removes (logs drop more than free text, since
 * nobody reads a log line for its prose).
 */
export function secretPrefixedPattern(): RegExp {
  return pattern(1);
}

export function containsSecretShaped(text: string): boolean {
  SECRET_SHAPED.lastIndex = 0;
  return SECRET_SHAPED.test(text);
}

/** The marker a secret-shaped run is replaced by: its prefix, an ellipsis and its last four characters. */
export const REDACTION_ELLIPSIS = '…';

export interface SecretRedaction {
  /** The text with every secret-shaped run replaced by `<prefix>…<last four>`. */
  text: string;
  /** Lower-case hex SHA-256 of each run replaced, in order: enough to recognise a known secret, never the secret. */
  sha256s: string[];
}

/**
 * Replaces each secret-shaped run in free text by `<prefix>…<last four>`
 * (`agk_live_…AbCd`), which is no longer secret-shaped, so redacting twice
 * changes nothing. Returns null when there was nothing to redact.
 */
export function redactSecretShaped(text: string): SecretRedaction | null {
  if (!containsSecretShaped(text)) return null;
  const sha256s: string[] = [];
  const redacted = text.replace(SECRET_SHAPED, (run: string, keyPrefix?: string, whsecPrefix?: string) => {
    sha256s.push(createHash('sha256').update(run, 'utf8').digest('hex'));
    const prefix = keyPrefix ?? whsecPrefix ?? '';
    return `${prefix}${REDACTION_ELLIPSIS}${run.slice(-4)}`;
  });
  return { text: redacted, sha256s };
}

/**
 * A secret-shaped value reached a place that must never hold one (an audit
 * event's data, an event body). Bad input that slipped past the request
 * boundary: 400, nothing written, and the message names where, never what.
 */
export class SecretValueRefusedError extends DomainError {
  constructor(where: string, errors: FieldError[]) {
    super('invalid', 'SECRET_VALUE_REFUSED', `refusing to write a secret-like value to ${where}`, errors);
  }
}
