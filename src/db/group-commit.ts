/**
 * Group commit: requests that arrive together are carried out in one transaction, and each
 * is answered only after that transaction has committed.
 *
 * At most `maxInFlight` batches run at once; the next one gathers whatever arrives while
 * they commit. So under load batches grow by themselves, and at rest a request waits for
 * nobody. The only linger is the rest of the event loop's turn: PGlite runs a query
 * synchronously and hands its connection on in microtasks, so a batch started at once
 * would reach its commit before the next request was even parsed, and every batch would
 * hold one request.
 *
 * A batch that fails is split in two until the failing request is alone; that request then
 * takes its own path (`alone`), whose error is its own. A request the batch leaves out
 * (absent from the map `commit` returns) takes that path too.
 */
export class GroupCommit<T, R> {
  readonly #options: GroupCommitOptions<T, R>;
  #waiting: Pending<T, R>[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(options: GroupCommitOptions<T, R>) {
    this.#options = options;
  }

  submit(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      while (this.#inFlight < this.#options.maxInFlight && this.#waiting.length > 0) {
        const batch = this.#take();
        this.#inFlight++;
        void this.#run(batch).finally(() => {
          this.#inFlight--;
          this.#schedule();
        });
      }
    });
  }

  /** Up to maxBatch waiting requests, at most one per distinct key; the rest wait. */
  #take(): Pending<T, R>[] {
    const batch: Pending<T, R>[] = [];
    const later: Pending<T, R>[] = [];
    const keys = new Set<string>();
    for (const pending of this.#waiting) {
      const key = this.#options.distinctKey?.(pending.item);
      if (batch.length < this.#options.maxBatch && (key === undefined || !keys.has(key))) {
        if (key !== undefined) keys.add(key);
        batch.push(pending);
      } else {
        later.push(pending);
      }
    }
    this.#waiting = later;
    return batch;
  }

  async #run(batch: Pending<T, R>[]): Promise<void> {
    let done: Map<T, R>;
    try {
      done = await this.#options.commit(batch.map((pending) => pending.item));
    } catch {
      if (batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await this.#run(batch.slice(0, half));
        await this.#run(batch.slice(half));
        return;
      }
      done = new Map();
    }
    for (const pending of batch) {
      if (done.has(pending.item)) pending.resolve(done.get(pending.item)!);
    }
    // Each of the rest in its own transactions, concurrently (on PostgreSQL each takes a
    // connection of the pool).
    await Promise.all(
      batch
        .filter((pending) => !done.has(pending.item))
        .map((pending) => this.#options.alone(pending.item).then(pending.resolve, pending.reject)),
    );
  }
}

export interface GroupCommitOptions<T, R> {
  /** Requests in one batch at most. */
  maxBatch: number;
  /** Batches running at once. */
  maxInFlight: number;
  /** Requests with the same key never share a batch (a later one waits for the next). */
  distinctKey?: (item: T) => string;
  /** Carries out a batch in one transaction; what it leaves out takes `alone`. */
  commit: (batch: T[]) => Promise<Map<T, R>>;
  /** One request on its own. */
  alone: (item: T) => Promise<R>;
}

interface Pending<T, R> {
  item: T;
  resolve(result: R): void;
  reject(error: unknown): void;
}
