import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import type { GeneratedDevSecrets } from './app-config';

/**
 * Outside production the service may run with no ADMIN_TOKEN or LOCAL_STORE_KEY:
 * it generates them once into a git-ignored file (mode 0600) and reuses them on
 * every later start, so secrets written to the local store stay readable.
 */
export function loadOrCreateDevSecrets(file: string): { path: string; secrets: GeneratedDevSecrets; created: boolean } {
  const path = resolve(file);
  if (existsSync(path)) {
    const secrets = JSON.parse(readFileSync(path, 'utf8')) as GeneratedDevSecrets;
    return { path, secrets, created: false };
  }
  const secrets: GeneratedDevSecrets = {
    ADMIN_TOKEN: `agt_dev_${randomBytes(32).toString('base64url')}`,
    LOCAL_STORE_KEY: randomBytes(32).toString('base64'),
  };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return { path, secrets, created: true };
}
