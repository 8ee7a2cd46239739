import type { AwsSecretsManagerDouble } from './aws-secrets-manager-double';
import type { VaultDouble } from './vault-double';

/** The service's settings for the Vault and Secrets Manager doubles. */
export function storeDoublesEnv(vault: VaultDouble, aws: AwsSecretsManagerDouble): Record<string, string> {
  return {
    VAULT_ADDR: vault.url,
    VAULT_TOKEN: vault.rootToken,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: aws.url,
    AWS_ACCESS_KEY_ID: 'test-access-key',
    AWS_SECRET_ACCESS_KEY: 'test-secret-key',
  };
}

/** After each test: no faults left over, Vault unsealed. */
export function resetStoreDoubles(vault: VaultDouble, aws: AwsSecretsManagerDouble): void {
  vault.faults.clear();
  vault.unseal();
  aws.faults.clear();
}
