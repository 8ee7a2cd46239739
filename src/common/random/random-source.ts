import { randomBytes, randomInt, randomUUID } from 'node:crypto';

import { v7 as uuidv7 } from 'uuid';

/** Randomness behind a port, so tests can make jitter and ids predictable. */
export abstract class RandomSource {
  abstract bytes(size: number): Buffer;
  abstract uuid(): string;
  /**
   * A UUIDv7: ids drawn by this process sort in the order they were drawn,
   * also within one millisecond. Records listed newest first by (time, id)
   * keep their order when the clock gives two of them the same time.
   */
  abstract orderedUuid(): string;
  /** Integer in [min, max). */
  abstract int(min: number, max: number): number;
}

/** A draw in [0, 1) with a millionth's resolution: the jitter of retries and rotation schedules. */
export function randomUnit(random: RandomSource): number {
  return random.int(0, 1_000_000) / 1_000_000;
}

export class CryptoRandomSource extends RandomSource {
  bytes(size: number): Buffer {
    return randomBytes(size);
  }

  uuid(): string {
    return randomUUID();
  }

  orderedUuid(): string {
    return uuidv7();
  }

  int(min: number, max: number): number {
    return randomInt(min, max);
  }
}
