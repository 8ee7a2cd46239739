import { Global, Module } from '@nestjs/common';
import { Clock, SystemClock } from './clock/clock';
import { AfterCommit } from './db/after-commit';
import { CryptoRandomSource, RandomSource } from './random/random-source';

/** The cross-cutting ports every module may inject (tests override Clock and RandomSource), and after-commit hooks. */
@Global()
@Module({
  providers: [
    { provide: Clock, useClass: SystemClock },
    { provide: RandomSource, useClass: CryptoRandomSource },
    AfterCommit,
  ],
  exports: [Clock, RandomSource, AfterCommit],
})
export class CommonModule {}
