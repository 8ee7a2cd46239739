import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client } from 'pg';

import { databaseUrl, TEST_PG_URL, TEST_REDIS_URL } from './support/env';
import { deleteRedisPrefix } from './support/test-app';
import { dropTestDatabase } from './support/test-db';

const ROOT = join(__dirname, '..');

interface Started {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/**
 * Runs src/main.ts from its sources, transpiled on the fly as ts-node's transpile-only mode does, through the
 * content-keyed cache the other child-process tests share (test/support/ts-cache-register.cjs), with only the
 * given environment.
 */
function startService(env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['-r', join(ROOT, 'test/support/ts-cache-register.cjs'), 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME!, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

async function waitFor(started: Started, pattern: RegExp, timeoutMs = 90_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = started.stderr().match(pattern);
    if (match) return match;
    if (started.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`service did not print ${pattern}; stderr:\n${started.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(started: Started): Promise<void> {
  if (started.child.exitCode === null) started.child.kill('SIGTERM');
  await started.exited;
}

describe('starting the service on a fresh machine', () => {
  const database = `agc_fresh_${randomBytes(5).toString('hex')}`;
  const prefix = `t_${randomBytes(5).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'agc-start-'));
  const secretsFile = join(dir, '.local', 'dev-secrets.json');
  const base = {
    DATABASE_URL: databaseUrl(database),
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: prefix,
    PORT: '0',
    LOCAL_SECRETS_FILE: secretsFile,
  };

  afterAll(async () => {
    await dropTestDatabase(database);
    await deleteRedisPrefix(prefix);
  });

  it('creates the database, runs migrations, generates dev secrets once and serves', async () => {
    const first = startService(base);
    try {
      const [, port] = await waitFor(first, /Listening on http:\/\/127\.0\.0\.1:(\d+)/);
      expect(first.stderr()).toContain(`Generated development ADMIN_TOKEN and LOCAL_STORE_KEY in ${secretsFile}`);
      expect(first.stderr()).toContain(`Created database ${database}`);
      expect(first.stderr()).toMatch(/Applied migrations: Foundation/);
      const secrets = JSON.parse(readFileSync(secretsFile, 'utf8'));
      // The token itself is never printed, only where it is.
      expect(first.stderr()).not.toContain(secrets.ADMIN_TOKEN);
      expect(statSync(secretsFile).mode & 0o777).toBe(0o600);
      const owners = await fetch(`http://127.0.0.1:${port}/v1/owners`, { headers: { authorization: `Bearer ${secrets.ADMIN_TOKEN}` } });
      expect(owners.status).toBe(200);
    } finally {
      await stop(first);
    }

    const client = new Client({ connectionString: TEST_PG_URL });
    await client.connect();
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    await client.end();
    expect(found.rowCount).toBe(1);

    const second = startService(base);
    try {
      await waitFor(second, /Listening on/);
      expect(second.stderr()).toContain(`Using development ADMIN_TOKEN and LOCAL_STORE_KEY in ${secretsFile}`);
      expect(second.stderr()).not.toContain('Created database');
      expect(second.stderr()).not.toContain('Applied migrations');
    } finally {
      await stop(second);
    }
    // Two cold starts transpiled on the fly: under a loaded machine each can take tens of seconds.
  }, 200_000);

  it('refuses to start in production without ADMIN_TOKEN, naming the variable in one line', async () => {
    const started = startService({ ...base, NODE_ENV: 'production', LOCAL_STORE_KEY: randomBytes(32).toString('base64') });
    expect(await started.exited).toBe(1);
    expect(started.stderr().trim()).toMatch(/^Configuration error: ADMIN_TOKEN is required in production[^\n]*$/);
  });

  it('fails fast on invalid configuration with a one-line message', async () => {
    const started = startService({ ...base, DATABASE_URL: 'mysql://nope', ADMIN_TOKEN: 'a'.repeat(32), LOCAL_STORE_KEY: 'short' });
    expect(await started.exited).toBe(1);
    const text = started.stderr().trim();
    expect(text.split('\n')).toHaveLength(1);
    expect(text).toContain('DATABASE_URL is not a valid postgres/postgresql URL');
    expect(text).toContain('LOCAL_STORE_KEY must be base64 of exactly 32 random bytes');
  });
});
