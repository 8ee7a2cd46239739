import { awsHarness, quietStoreLogs, vaultHarness } from './harnesses';
import { describeStoreContract } from './store-contract';

/**
 * The store contract against real services. Faults cannot be injected into
 * them, so those tests are skipped here; the doubles' specs cover them.
 *
 *   docker compose up -d vault localstack
 *   VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=dev-root-token \
 *   AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_REGION=us-east-1 \
 *   AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test npm run test:integration
 */
quietStoreLogs();

const env = process.env;
/** A real service (LocalStack above all) can take seconds on its first calls. */
const calls = { timeoutMs: 15_000, maxAttempts: 3, retryBaseDelayMs: 200 };

if (env.VAULT_ADDR) {
  describeStoreContract(`vault at ${env.VAULT_ADDR}`, { faults: false }, () =>
    vaultHarness({
      address: env.VAULT_ADDR!,
      token: env.VAULT_TOKEN,
      roleId: env.VAULT_ROLE_ID,
      secretId: env.VAULT_SECRET_ID,
      inspectToken: env.VAULT_TOKEN,
      namespace: env.VAULT_NAMESPACE,
      mount: env.VAULT_KV_MOUNT,
      calls,
    }),
  );
} else {
  console.warn(
    'Vault integration skipped: set VAULT_ADDR and VAULT_TOKEN (docker compose up -d vault) to run the store contract against a real Vault.',
  );
  describe('vault (real)', () => {
    it.skip('needs VAULT_ADDR and VAULT_TOKEN', () => undefined);
  });
}

if (env.AWS_ENDPOINT_URL) {
  describeStoreContract(`aws at ${env.AWS_ENDPOINT_URL}`, { faults: false }, () =>
    awsHarness({
      endpoint: env.AWS_ENDPOINT_URL!,
      region: env.AWS_REGION ?? 'us-east-1',
      credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'test', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'test' },
      calls,
    }),
  );
} else {
  console.warn(
    'AWS Secrets Manager integration skipped: set AWS_ENDPOINT_URL and AWS_REGION (docker compose up -d localstack) to run the store contract against LocalStack.',
  );
  describe('aws (real)', () => {
    it.skip('needs AWS_ENDPOINT_URL and AWS_REGION', () => undefined);
  });
}
