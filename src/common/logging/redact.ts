/**
 * Field names whose values never reach a log line. pino's redact paths match
 * exact names, so every spelling we use is listed.
 */
const SENSITIVE_KEYS = [
  'secret',
  'secrets',
  'token',
  'signingSecret',
  'signingSecrets',
  'secretString',
  'SecretString',
  'clientToken',
  'client_token',
  'secret_id',
  'secretId',
  'password',
  'authorization',
  'Authorization',
  'cookie',
  'apiKey',
  'api_key',
  'adminToken',
  'ADMIN_TOKEN',
  'LOCAL_STORE_KEY',
  'VAULT_TOKEN',
  'VAULT_SECRET_ID',
  '"x-vault-token"',
  '"X-Vault-Token"',
  '"webhook-signature"',
];

export const REDACTED = '[REDACTED]';

/** Top level and one level down: what our log calls and serializers produce. Deeper wildcards cost every line. */
export function redactPaths(): string[] {
  const prefixes = ['', '*.'];
  return prefixes.flatMap((prefix) => SENSITIVE_KEYS.map((key) => `${prefix}${key}`));
}

/** Values that look like one of our secrets or tokens, wherever they appear in a message. */
const SENSITIVE_VALUE = /(agk_(?:live|test)_|agt_|whsec_)[A-Za-z0-9_+/=-]+/g;

export function scrubSecrets(text: string): string {
  return text.replace(SENSITIVE_VALUE, `$1${REDACTED}`);
}
