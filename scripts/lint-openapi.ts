import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { buildOfflineApiDocument } from './openapi-document';

/**
 * `npm run lint:openapi` (part of `npm run lint`): lints the OpenAPI document
 * the app serves at /docs-json with redocly, by the rules in redocly.yaml. The
 * document is built without a database (openapi-document.ts) into a temporary
 * file, which is removed afterwards.
 */
const ROOT = join(__dirname, '..');

async function main(): Promise<number> {
  const document = await buildOfflineApiDocument();
  const operations = Object.values(document.paths).reduce((n, item) => n + Object.keys(item).length, 0);
  process.stdout.write(`OpenAPI document: ${Object.keys(document.paths).length} paths, ${operations} operations\n`);
  const dir = mkdtempSync(join(tmpdir(), 'openapi-'));
  try {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(document, null, 2));
    const lint = spawnSync(join(ROOT, 'node_modules', '.bin', 'redocly'), ['lint', '--config', join(ROOT, 'redocly.yaml'), file], {
      stdio: 'inherit',
      // Offline: no telemetry, no update check.
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    });
    if (lint.error) throw lint.error;
    return lint.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`lint:openapi: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
