/**
 * Group commit for rotation steps: items submitted while a flush is in flight
 * wait and go together in the next one, so the concurrent jobs of a worker
 * record their steps in one transaction (one lock statement, one audit
 * append, one commit) instead of one each. On this kind of machine a round
 * trip and a commit cost far more than the rows they carry, and the audit
 * chain lock is held through each audited commit, so this is what lets
 * throughput grow with concurrency. A flush that throws fails every item in
 * it; each item's own outcome (applied, raced, revoked) is the flush's answer.
 */
export class GroupCommit<I, O> {
  private waiting: Array<{ item: I; resolve: (outcome: O) => void; reject: (error: unknown) => void }> = [];
  private flushing = false;

  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly maxBatch: number,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.flushing || this.waiting.length === 0) return;
    this.flushing = true;
    // Let the other jobs that reach this step in the same turn of the event loop join.
    setImmediate(() => void this.run());
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
      this.next();
    }
  }
}
