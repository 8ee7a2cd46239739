import { Global, Module } from '@nestjs/common';
import { Clock, SystemClock } from './clock/clock';
import { CryptoRandomSource, RandomSource } from './random/random-source';

/** The cross-cutting ports every module may inject. Tests override them. */
@Global()
@Module({
  providers: [
    { provide: Clock, useClass: SystemClock },
    { provide: RandomSource, useClass: CryptoRandomSource },
  ],
  exports: [Clock, RandomSource],
})
export class CommonModule {}
