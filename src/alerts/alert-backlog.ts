import type { AlertOccurrence } from './alert-types';

/**
 * The sightings detection has found and not yet raised, bounded: at most
 * `capacity` of them wait, one per (type, credential).
 *
 * - A sighting of a type and credential that already waits is coalesced into
 *   it, as the alert's upsert would count it in (src/alerts/alerts.repository.ts):
 *   `count` summed, `firstAt` the earliest, `at` the latest, `evidence` the
 *   latest sighting's, `coalesced` how many sightings it stands for. Nothing
 *   is dropped; the alert's audit event says how many were folded.
 * - A sighting of a new (type, credential) when `capacity` wait already is
 *   not dropped either: `put` waits until raising takes a chunk (`take`). The
 *   detector awaits it, which holds the usage recorder's next write
 *   (src/enforcement/usage-observer.ts): backpressure onto counters the recorder
 *   keeps summed per credential and hour, never a queue of alerts.
 */
export class AlertBacklog {
  private readonly waiting = new Map<string, PendingOccurrence>();
  private readonly waiters: Array<() => void> = [];
  /** Sightings folded into one already waiting, and times a put waited for room, since start (tests, the benchmark). */
  coalesced = 0;
  waitedForRoom = 0;
  /** The most sightings that ever waited at once. */
  highWater = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new Error(`an alert backlog holds at least 1 sighting, not ${capacity}`);
  }

  get size(): number {
    return this.waiting.size;
  }

  /**
   * Adds a sighting, or coalesces it into the one of its type and credential
   * that waits. Resolves at once when it coalesced or there was room (added
   * before this returns, so a raiser started right after sees it); otherwise
   * once a `take` made room.
   */
  async put(occurrence: AlertOccurrence): Promise<void> {
    const key = keyOf(occurrence);
    for (;;) {
      const pending = this.waiting.get(key);
      if (pending) {
        coalesce(pending, occurrence);
        this.coalesced++;
        return;
      }
      if (this.waiting.size < this.capacity) {
        this.waiting.set(key, { ...occurrence, coalesced: 1 });
        if (this.waiting.size > this.highWater) this.highWater = this.waiting.size;
        return;
      }
      this.waitedForRoom++;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Up to `max` sightings, oldest first, taken out; those waiting for room are woken. */
  take(max: number): PendingOccurrence[] {
    const taken: PendingOccurrence[] = [];
    for (const [key, occurrence] of this.waiting) {
      if (taken.length >= max) break;
      taken.push(occurrence);
      this.waiting.delete(key);
    }
    if (taken.length) for (const wake of this.waiters.splice(0)) wake();
    return taken;
  }
}

/** A sighting as it waits: `coalesced` sightings of its type and credential folded into one. */
export type PendingOccurrence = AlertOccurrence & { coalesced: number };

function keyOf(o: AlertOccurrence): string {
  return `${o.type}|${o.credentialId}`;
}

function coalesce(into: PendingOccurrence, o: AlertOccurrence): void {
  const first = o.firstAt ?? o.at;
  const intoFirst = into.firstAt ?? into.at;
  into.firstAt = first < intoFirst ? first : intoFirst;
  if (o.at > into.at) into.at = o.at;
  into.count += o.count;
  into.evidence = o.evidence;
  into.coalesced++;
}
