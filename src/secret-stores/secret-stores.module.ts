import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Clock } from '../common/clock/clock';
import { AppConfig } from '../config/app-config';
import { AwsSecretsManagerStore } from './aws-secrets-manager.store';
import { LocalSecretVersionEntity } from './entities/local-secret-version.entity';
import { LocalSecretStore } from './local.store';
import { SecretStore } from './secret-store';
import { SecretStoreRegistry } from './secret-store.registry';
import { VaultSecretStore } from './vault.store';

/**
 * The registry holds `local` always, and Vault and AWS Secrets Manager only
 * when their settings are present; an unconfigured store is a null provider.
 */
@Module({
  imports: [TypeOrmModule.forFeature([LocalSecretVersionEntity])],
  providers: [
    LocalSecretStore,
    {
      provide: VaultSecretStore,
      inject: [AppConfig, Clock],
      useFactory: (config: AppConfig, clock: Clock) =>
        config.secretStores.vault ? new VaultSecretStore(config.secretStores.vault, clock) : null,
    },
    {
      provide: AwsSecretsManagerStore,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => (config.secretStores.aws ? new AwsSecretsManagerStore(config.secretStores.aws) : null),
    },
    {
      provide: SecretStoreRegistry,
      inject: [AppConfig, LocalSecretStore, VaultSecretStore, AwsSecretsManagerStore],
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
