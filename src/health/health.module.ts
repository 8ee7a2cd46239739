import { Global, Module } from '@nestjs/common';
import { SecretStoresModule } from '../secret-stores/secret-stores.module';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';
import { MetricsService } from './metrics.service';

/** Global so any module can register metrics on the application's registry. */
@Global()
@Module({
  imports: [SecretStoresModule],
  controllers: [HealthController],
  providers: [HealthService, MetricsService],
  exports: [MetricsService],
})
export class HealthModule {}
