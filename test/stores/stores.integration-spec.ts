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

/** Says why a store's contract is not run here, and shows it as a skipped test. */
function skipped(name: string, label: string, needs: string, service: string, against: string): void {
  console.warn(`${name} integration skipped: set ${needs} (docker compose up -d ${service}) to run the store contract against ${against}.`);
  describe(`${label} (real)`, () => {
    it.skip(`needs ${needs}`, () => undefined);
  });
}
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
  skipped('Vault', 'vault', 'VAULT_ADDR and VAULT_TOKEN', 'vault', 'a real Vault');
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
  skipped('AWS Secrets Manager', 'aws', 'AWS_ENDPOINT_URL and AWS_REGION', 'localstack', 'LocalStack');
}
