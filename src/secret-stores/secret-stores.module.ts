import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config';
import { LocalSecretVersionEntity } from './entities/local-secret-version.entity';
import { LocalSecretStore } from './local.store';
import { SecretStoreRegistry } from './secret-store.registry';

@Module({
  imports: [TypeOrmModule.forFeature([LocalSecretVersionEntity])],
  providers: [
    LocalSecretStore,
    {
      provide: SecretStoreRegistry,
      inject: [AppConfig, LocalSecretStore],
      useFactory: (config: AppConfig, local: LocalSecretStore) =>
        new SecretStoreRegistry([local], config.secretStores.default),
    },
  ],
  exports: [SecretStoreRegistry],
})
export class SecretStoresModule {}
