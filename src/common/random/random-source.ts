import { randomBytes, randomInt, randomUUID } from 'node:crypto';

/** Randomness behind a port, so tests can make jitter and ids predictable. */
export abstract class RandomSource {
  abstract bytes(size: number): Buffer;
  abstract uuid(): string;
  /** Integer in [min, max). */
  abstract int(min: number, max: number): number;
}

export class CryptoRandomSource extends RandomSource {
  bytes(size: number): Buffer {
    return randomBytes(size);
  }

  uuid(): string {
    return randomUUID();
  }

  int(min: number, max: number): number {
    return randomInt(min, max);
  }
}
