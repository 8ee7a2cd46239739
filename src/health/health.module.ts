import { Module } from '@nestjs/common';

import { SecretStoresModule } from '../secret-stores/secret-stores.module';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';

@Module({
  imports: [SecretStoresModule],
  controllers: [HealthController],
  providers: [HealthService],
})
export class HealthModule {}
