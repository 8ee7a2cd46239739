import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';

import { AlertsModule } from './alerts/alerts.module';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { CommonModule } from './common/common.module';
import { dataSourceOptions } from './common/db/data-source-options';
import { ProblemFilter } from './common/http/problem.filter';
import { JobsModule } from './common/jobs/jobs.module';
import { LoggingModule } from './common/logging/logging.module';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { ConsoleModule } from './console/console.module';
import { EnforcementModule } from './enforcement/enforcement.module';
import { GatewaysModule } from './gateways/gateways.module';
import { HealthModule } from './health/health.module';
import { InventoryModule } from './inventory/inventory.module';
import { LeaksModule } from './leaks/leaks.module';
import { OAuthModule } from './oauth/oauth.module';
import { ReviewsModule } from './reviews/reviews.module';
import { RevocationModule } from './revocation/revocation.module';
import { RotationModule } from './rotation/rotation.module';
import { SecretStoresModule } from './secret-stores/secret-stores.module';
import { UsageModule } from './usage/usage.module';

export interface AppModuleOptions {
  /** Where logs go; stdout by default. Tests pass a stream they can search. */
  logStream?: NodeJS.WritableStream;
}

/** Wires the modules for one process; which roles it runs comes from config. */
@Module({})
export class AppModule {
  static register(config: AppConfig, options: AppModuleOptions = {}): DynamicModule {
    const scheduler = config.roles.includes('scheduler') ? [ScheduleModule.forRoot()] : [];
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot(config, options.logStream),
        TypeOrmModule.forRoot({ ...dataSourceOptions(config.database.url, config.database.poolSize), autoLoadEntities: true }),
        CommonModule,
        JobsModule,
        ...scheduler,
        AuditModule,
        AuthModule,
        SecretStoresModule,
        InventoryModule,
        GatewaysModule,
        RevocationModule,
        RotationModule,
        ReviewsModule,
        LeaksModule,
        OAuthModule,
        HealthModule,
        ConsoleModule,
        EnforcementModule,
        UsageModule,
        AlertsModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: ProblemFilter }],
    };
  }
}
