/**
 * Collects calls made within a few milliseconds and serves them with one
 * batch call: the ten deliveries of one revocation arrive together, and one
 * query for all of them costs one round trip instead of ten.
 */
export class MicroBatch<I, O> {
  private pending: Array<{ input: I; resolve: (output: O) => void; reject: (error: unknown) => void }> = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly run: (inputs: I[]) => Promise<O[]>,
    private readonly windowMs = 2,
    private readonly maxSize = 100,
  ) {}

  submit(input: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (this.pending.length >= this.maxSize) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.windowMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.run(batch.map((b) => b.input)).then(
      (outputs) => batch.forEach((b, i) => b.resolve(outputs[i])),
      (error: unknown) => batch.forEach((b) => b.reject(error)),
    );
  }
}
