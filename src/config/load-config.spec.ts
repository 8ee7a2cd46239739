import { ConfigError, loadConfig } from './load-config';

const key = Buffer.alloc(32, 7).toString('base64');
const valid = { ADMIN_TOKEN: 'a'.repeat(32), LOCAL_STORE_KEY: key };

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(valid);
    expect(config.http.port).toBe(3000);
    expect(config.database.url).toBe('postgres://postgres@127.0.0.1:5432/credentials');
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.secretStores.default).toBe('local');
    expect(config.roles).toEqual(['api', 'worker', 'scheduler']);
    expect(config.database.migrationsRun).toBe(true);
    expect(config.secretStores.local.key).toHaveLength(32);
    expect(config.oauth).toEqual({
      issuer: 'http://127.0.0.1:3000',
      audience: 'http://127.0.0.1:3000',
      tokenTtlSeconds: 600,
      signingKeyDays: 30,
    });
  });

  it('keeps the OAuth issuer without a trailing slash and the audience apart from it when set', () => {
    const config = loadConfig({ ...valid, OAUTH_ISSUER: 'https://auth.example.com/', OAUTH_AUDIENCE: 'https://api.example.com' });
    expect(config.oauth.issuer).toBe('https://auth.example.com');
    expect(config.oauth.audience).toBe('https://api.example.com');
  });

  it.each([
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL is not a valid postgres/postgresql URL'],
    [{ PORT: 'eighty' }, 'PORT must be a number'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN must be at least 32 characters'],
    [{ LOCAL_STORE_KEY: 'abc' }, 'LOCAL_STORE_KEY must be base64 of exactly 32 random bytes'],
    [{ ROLES: 'api,cron' }, 'ROLES.1 each role must be one of api, worker, scheduler'],
    [{ MIGRATIONS_RUN: 'maybe' }, 'MIGRATIONS_RUN must be true or false'],
    [{ SECRET_STORE_DEFAULT: 'vault' }, 'SECRET_STORE_DEFAULT is vault but that store is not configured'],
    [{ VAULT_ADDR: 'http://vault:8200' }, 'neither VAULT_TOKEN nor VAULT_ROLE_ID/VAULT_SECRET_ID'],
    [{ AWS_ENDPOINT_URL: 'http://localstack:4566' }, 'AWS_REGION is not'],
    [{ OAUTH_ISSUER: 'ftp://issuer' }, 'OAUTH_ISSUER is not a valid http/https URL'],
    [{ OAUTH_ISSUER: 'https://issuer.example.com/?a=1' }, 'OAUTH_ISSUER must be a URL without query or fragment'],
    [{ OAUTH_AUDIENCE: 'not a url' }, 'OAUTH_AUDIENCE is not a valid http/https URL'],
    [{ OAUTH_TOKEN_TTL_SECONDS: '30' }, 'OAUTH_TOKEN_TTL_SECONDS must be at least 60'],
    [{ OAUTH_TOKEN_TTL_SECONDS: '3601' }, 'OAUTH_TOKEN_TTL_SECONDS must be at most 3600'],
    [{ OAUTH_SIGNING_KEY_DAYS: '0' }, 'OAUTH_SIGNING_KEY_DAYS must be at least 1'],
  ])('fails fast on %j with a message naming the variable', (override, message) => {
    const text = errorOf({ ...valid, ...override });
    expect(text).toContain(message);
    expect(text).not.toContain('\n');
  });

  it('refuses to start in production without ADMIN_TOKEN or LOCAL_STORE_KEY, even with generated ones', () => {
    const generated = { ADMIN_TOKEN: 'g'.repeat(40), LOCAL_STORE_KEY: key };
    expect(() => loadConfig({ NODE_ENV: 'production', LOCAL_STORE_KEY: key }, generated)).toThrow('ADMIN_TOKEN is required in production');
    expect(() => loadConfig({ NODE_ENV: 'production', ADMIN_TOKEN: 'a'.repeat(32) }, generated)).toThrow(
      'LOCAL_STORE_KEY is required in production',
    );
  });

  it('uses generated development secrets outside production', () => {
    const config = loadConfig({}, { ADMIN_TOKEN: 'g'.repeat(40), LOCAL_STORE_KEY: key });
    expect(config.adminToken).toBe('g'.repeat(40));
  });

  it('leaves the GitHub leak endpoint off and revokes confirmed leaks unless told otherwise', () => {
    expect(loadConfig(valid).leaks).toEqual({ githubKeysFile: null, action: 'revoke' });
    expect(loadConfig({ ...valid, GITHUB_SECRET_SCANNING_KEYS_FILE: ' /etc/github-keys.json ', LEAK_ACTION: 'rotate' }).leaks).toEqual({
      githubKeysFile: '/etc/github-keys.json',
      action: 'rotate',
    });
    expect(loadConfig({ ...valid, LEAK_ACTION: '' }).leaks.action).toBe('revoke');
    expect(errorOf({ ...valid, LEAK_ACTION: 'delete' })).toContain('LEAK_ACTION must be one of revoke, rotate, none');
  });

  it('bounds shutdown to 10 s unless told otherwise', () => {
    expect(loadConfig(valid).shutdown.timeoutMs).toBe(10_000);
    expect(loadConfig({ ...valid, SHUTDOWN_TIMEOUT_MS: '3000' }).shutdown.timeoutMs).toBe(3000);
    expect(errorOf({ ...valid, SHUTDOWN_TIMEOUT_MS: '10' })).toContain('SHUTDOWN_TIMEOUT_MS must be at least 1000');
  });

  it('allows gateways on private networks and loopback by default; loopback follows private networks unless set', () => {
    expect(loadConfig(valid).gateways).toMatchObject({ allowPrivateNetworks: true, allowLoopback: true });
    expect(loadConfig({ ...valid, GATEWAY_ALLOW_PRIVATE_NETWORKS: 'false' }).gateways).toMatchObject({
      allowPrivateNetworks: false,
      allowLoopback: false,
    });
    expect(loadConfig({ ...valid, GATEWAY_ALLOW_PRIVATE_NETWORKS: 'false', GATEWAY_ALLOW_LOOPBACK: 'true' }).gateways).toMatchObject({
      allowPrivateNetworks: false,
      allowLoopback: true,
    });
    expect(loadConfig({ ...valid, GATEWAY_ALLOW_LOOPBACK: 'false' }).gateways).toMatchObject({
      allowPrivateNetworks: true,
      allowLoopback: false,
    });
    expect(errorOf({ ...valid, GATEWAY_ALLOW_LOOPBACK: 'nope' })).toContain('GATEWAY_ALLOW_LOOPBACK must be true or false');
  });
});
