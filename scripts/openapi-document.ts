import 'reflect-metadata';

import { writeFileSync } from 'node:fs';

import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';

import { createApiDocument } from '../src/api-document';
import { AppModule } from '../src/app.module';
import { createFastifyAdapter, NEST_APP_OPTIONS } from '../src/app.setup';
import { loadConfig } from '../src/config/load-config';

/**
 * The OpenAPI document the app serves at /docs-json, built without Postgres or
 * Redis: Nest's preview mode scans the real module graph and the controllers'
 * metadata but instantiates no provider, so nothing connects anywhere, and
 * createApiDocument builds the document exactly as app.setup.ts does. The
 * configuration is a placeholder for the same reason: no part of the document
 * depends on it. test/api-document.e2e-spec.ts checks that this document equals
 * the one a running app serves.
 *
 * Run directly, writes the document to the file given (or stdout), e.g. to
 * generate a client: `npx ts-node --transpile-only scripts/openapi-document.ts openapi.json`.
 */
export async function buildOfflineApiDocument(): Promise<OpenAPIObject> {
  const config = loadConfig({
    ADMIN_TOKEN: 'openapi-document-placeholder-token-0000',
    LOCAL_STORE_KEY: Buffer.alloc(32).toString('base64'),
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(config), createFastifyAdapter(config), {
    ...NEST_APP_OPTIONS,
    preview: true,
    abortOnError: false,
    logger: false,
  });
  try {
    return createApiDocument(app);
  } finally {
    await app.close();
  }
}

if (require.main === module) {
  buildOfflineApiDocument().then(
    (document) => {
      const json = JSON.stringify(document, null, 2) + '\n';
      if (process.argv[2]) writeFileSync(process.argv[2], json);
      else process.stdout.write(json);
    },
    (error: unknown) => {
      process.stderr.write(`openapi-document: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
