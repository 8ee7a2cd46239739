/**
 * A replica's memory of values read from Postgres, kept exact by invalidation
 * (a Postgres NOTIFY sent inside the changing transaction and heard on a
 * dedicated LISTEN connection) rather than by time:
 *
 * - each kept value carries a tag (the id of the row it was read from);
 *   `invalidate(tags)` drops every value of those tags;
 * - `epoch` counts invalidations: a load that started before one may have read
 *   what changed, so its result answers its callers but is not kept, and later
 *   callers do not join it;
 * - concurrent callers of one key share one load;
 * - while nothing listens (`enabled` false) nothing is kept or answered from
 *   memory: every call loads.
 *
 * Values of which `tagOf` says null (e.g. "no such row") are not kept: a row
 * that appears later needs no notification to be seen. The cache holds at
 * most `maxEntries` values; past that it starts again empty.
 */
export class NotifiedCache<V> {
  private readonly entries = new Map<string, V>();
  private readonly keysByTag = new Map<string, string[]>();
  private readonly loads = new Map<string, { epoch: number; value: Promise<V> }>();
  private epochValue = 0;
  private enabledValue = false;

  constructor(
    private readonly maxEntries: number,
    private readonly tagOf: (value: V) => string | null,
  ) {}

  get enabled(): boolean {
    return this.enabledValue;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The kept value of `key`, else `load()`'s (shared with concurrent callers), kept unless a change was heard meanwhile. */
  get(key: string, load: () => Promise<V>): Promise<V> {
    if (this.enabledValue) {
      const kept = this.entries.get(key);
      if (kept !== undefined) return Promise.resolve(kept);
    }
    const epoch = this.epochValue;
    const inFlight = this.loads.get(key);
    if (inFlight && inFlight.epoch === epoch) return inFlight.value;
    const value = load().then((loaded) => {
      this.put(key, loaded, epoch);
      return loaded;
    });
    const entry = { epoch, value };
    this.loads.set(key, entry);
    const forget = () => {
      if (this.loads.get(key) === entry) this.loads.delete(key);
    };
    value.then(forget, forget);
    return value;
  }

  /** The rows of these tags changed. */
  invalidate(tags: readonly string[]): void {
    this.epochValue++;
    for (const tag of tags) {
      const keys = this.keysByTag.get(tag);
      if (!keys) continue;
      for (const key of keys) this.entries.delete(key);
      this.keysByTag.delete(tag);
    }
  }

  /** Forgets everything; `enabled` says whether to keep values again (the listening connection is up) or not. */
  reset(enabled: boolean): void {
    this.epochValue++;
    this.entries.clear();
    this.keysByTag.clear();
    this.enabledValue = enabled;
  }

  private put(key: string, value: V, epoch: number): void {
    if (!this.enabledValue || epoch !== this.epochValue) return;
    const tag = this.tagOf(value);
    if (tag === null) return;
    if (this.entries.size >= this.maxEntries) {
      this.entries.clear();
      this.keysByTag.clear();
    }
    this.entries.set(key, value);
    const keys = this.keysByTag.get(tag);
    if (keys) {
      if (!keys.includes(key)) keys.push(key);
    } else this.keysByTag.set(tag, [key]);
  }
}
