import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';

import { Clock, SystemClock } from './clock/clock';
import { AfterCommit } from './db/after-commit';
import { TransactionNotifications } from './db/transaction-notifications';
import { MetricsService } from './metrics/metrics.service';
import { CryptoRandomSource, RandomSource } from './random/random-source';
import { RateLimiter } from './rate-limit/rate-limiter';
import { ShutdownSequence } from './shutdown/shutdown-sequence';

/**
 * The cross-cutting ports every module may inject (tests override Clock and RandomSource), after-commit hooks,
 * the notifications a transaction sends at commit,
 * the application's metrics registry (each module registers its own metrics on it), and the shutdown sequence
 * (which finds what to close among all providers, hence DiscoveryModule).
 */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [
    { provide: Clock, useClass: SystemClock },
    { provide: RandomSource, useClass: CryptoRandomSource },
    AfterCommit,
    TransactionNotifications,
    MetricsService,
    RateLimiter,
    ShutdownSequence,
  ],
  exports: [Clock, RandomSource, AfterCommit, TransactionNotifications, MetricsService, RateLimiter, ShutdownSequence],
})
export class CommonModule {}
