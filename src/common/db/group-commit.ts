/**
 * Group commit: items submitted while a flush is in flight wait and go
 * together in the next one, so concurrent callers share one statement (or
 * one transaction: one lock statement, one audit append, one commit) instead
 * of one each. On this kind of machine a round trip and a commit cost far
 * more than the rows they carry, so this is what lets throughput grow with
 * concurrency; and a lone caller waits for nothing but its own turn of the
 * event loop. At most one flush per instance is in flight. A flush that
 * throws fails every item in it; each item's own outcome (applied, raced,
 * revoked) is the flush's answer. Used by the rotation steps, the delivery
 * attempts and the local secret store.
 */
export class GroupCommit<I, O> {
  private waiting: Array<{ item: I; resolve: (outcome: O) => void; reject: (error: unknown) => void }> = [];
  private flushing = false;

  /**
   * @param windowMs how long a flush waits for company once the first item
   *   arrives: 0 (the default) is the current turn of the event loop; a few
   *   milliseconds gather items that arrive close together but not at once
   *   (the deliveries of one event, each fetched by its own job).
   */
  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly maxBatch: number,
    private readonly windowMs = 0,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.next();
    });
  }

  /** `waited`: the items waiting have waited for a flush already, so none waits for the window again. */
  private next(waited = false): void {
    if (this.flushing || this.waiting.length === 0) return;
    this.flushing = true;
    // Let the others that arrive in the same turn of the event loop (or within the window) join.
    if (this.windowMs > 0 && !waited) setTimeout(() => void this.run(), this.windowMs);
    else setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    const batch = this.waiting.splice(0, this.maxBatch);
    try {
      const outcomes = await this.flush(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(outcomes[i]));
    } catch (error) {
      for (const b of batch) b.reject(error);
    } finally {
      this.flushing = false;
      this.next(true);
    }
  }
}
