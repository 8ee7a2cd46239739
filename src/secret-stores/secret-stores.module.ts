import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { Clock } from '../common/clock/clock';
import { AppConfig } from '../config/app-config';
import { LocalSecretVersionEntity } from './entities/local-secret-version.entity';
import { LocalSecretStore } from './local.store';
import { SecretStore } from './secret-store';
import { SecretStoreRegistry } from './secret-store.registry';

const VAULT_STORE = Symbol('VaultSecretStore');
const AWS_STORE = Symbol('AwsSecretsManagerStore');

/**
 * The registry holds `local` always, and Vault and AWS Secrets Manager only
 * when their settings are present; an unconfigured store is a null provider.
 * The Vault and AWS adapters (and their SDKs, about 30 MB of memory between
 * them) are only loaded when configured.
 */
@Module({
  imports: [TypeOrmModule.forFeature([LocalSecretVersionEntity])],
  providers: [
    LocalSecretStore,
    {
      provide: VAULT_STORE,
      inject: [AppConfig, Clock],
      useFactory: async (config: AppConfig, clock: Clock) => {
        if (!config.secretStores.vault) return null;
        const { VaultSecretStore } = await import('./vault.store');
        return new VaultSecretStore(config.secretStores.vault, clock);
      },
    },
    {
      provide: AWS_STORE,
      inject: [AppConfig],
      useFactory: async (config: AppConfig) => {
        if (!config.secretStores.aws) return null;
        const { AwsSecretsManagerStore } = await import('./aws-secrets-manager.store');
        return new AwsSecretsManagerStore(config.secretStores.aws);
      },
    },
    {
      provide: SecretStoreRegistry,
      inject: [AppConfig, LocalSecretStore, VAULT_STORE, AWS_STORE],
      useFactory: (config: AppConfig, ...stores: Array<SecretStore | null>) =>
        new SecretStoreRegistry(
          stores.filter((s): s is SecretStore => s !== null),
          config.secretStores.default,
        ),
    },
  ],
  exports: [SecretStoreRegistry],
})
export class SecretStoresModule {}
