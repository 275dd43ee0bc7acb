/**
 * Runs many small, independent statements as a few batch statements, the way
 * PostgreSQL's group commit shares one flush among many commits. A request
 * that finds a free slot runs at once (a batch of one: no added latency when
 * the load is light); requests that arrive while `maxInFlight` batches are
 * running wait and go together, up to `maxBatch` at a time. Under load every
 * round trip, parse and commit is shared by a whole batch.
 *
 * A batch that fails is run again one request at a time, so one bad row (a
 * unique violation, a row deleted under us) fails only its own request. The
 * batch function must therefore be all-or-nothing: one statement, or one
 * transaction.
 */
export interface CoalescerOptions<In = unknown> {
  /** Most requests in one batch statement. */
  maxBatch: number;
  /** Batches running at once; more requests wait for the next one. */
  maxInFlight: number;
  /**
   * Keys no two requests of one batch may share (an address, a message id).
   * A request sharing a key with one taken into the batch waits for a later
   * batch, and so does every later request sharing a key with a waiting one:
   * requests with a key in common go in arrival order. None by default.
   */
  keysOf?: (input: In) => readonly string[];
  /**
   * Whether a failed batch is tried again one request at a time (by default
   * always). When not (a database outage, where each request alone would
   * fail the same way, only later), every request gets the batch's error.
   */
  retryAlone?: (error: unknown) => boolean;
}

interface Waiting<In, Out> {
  input: In;
  resolve(output: Out): void;
  reject(error: unknown): void;
}

export class Coalescer<In, Out> {
  private waiting: Array<Waiting<In, Out>> = [];
  private inFlight = 0;
  private scheduled = false;

  /** `runBatch` returns one output per input, in the order of the inputs. */
  constructor(
    private readonly runBatch: (inputs: In[]) => Promise<Out[]>,
    private readonly options: CoalescerOptions<In>,
  ) {}

  /** Requests waiting for a batch (not counting those of the batches running). */
  get waitingCount(): number {
    return this.waiting.length;
  }

  submit(input: In): Promise<Out> {
    const output = new Promise<Out>((resolve, reject) => this.waiting.push({ input, resolve, reject }));
    this.schedulePump();
    return output;
  }

  /**
   * Submits several requests at once: they wait together, so they go in one
   * batch (several, beyond `maxBatch`) instead of the first running alone.
   * Each settles on its own: one failed request does not hide the others.
   */
  submitAll(inputs: readonly In[]): Promise<Array<PromiseSettledResult<Out>>> {
    const outputs = inputs.map((input) => new Promise<Out>((resolve, reject) => this.waiting.push({ input, resolve, reject })));
    this.schedulePump();
    return Promise.allSettled(outputs);
  }

  private schedulePump(): void {
    // Requests made in the same turn of the event loop share a batch.
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      const batch = this.takeBatch();
      this.inFlight += 1;
      void this.settle(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  /** The next batch: the oldest requests, leaving for later those that share a key with an earlier one (see keysOf). */
  private takeBatch(): Array<Waiting<In, Out>> {
    const { keysOf, maxBatch } = this.options;
    if (!keysOf) return this.waiting.splice(0, maxBatch);
    const batch: Array<Waiting<In, Out>> = [];
    const later: Array<Waiting<In, Out>> = [];
    const seen = new Set<string>();
    for (const entry of this.waiting) {
      const keys = keysOf(entry.input);
      if (batch.length < maxBatch && !keys.some((key) => seen.has(key))) batch.push(entry);
      else later.push(entry);
      for (const key of keys) seen.add(key);
    }
    this.waiting = later;
    return batch;
  }

  private async settle(batch: Array<Waiting<In, Out>>): Promise<void> {
    try {
      const outputs = await this.run(batch.map((entry) => entry.input));
      batch.forEach((entry, i) => entry.resolve(outputs[i] as Out));
    } catch (error) {
      if (batch.length === 1 || this.options.retryAlone?.(error) === false) {
        for (const entry of batch) entry.reject(error);
        return;
      }
      // Nothing of the batch was written: each request is tried on its own.
      await Promise.all(
        batch.map(async (entry) => {
          try {
            entry.resolve((await this.run([entry.input]))[0] as Out);
          } catch (single) {
            entry.reject(single);
          }
        }),
      );
    }
  }

  private async run(inputs: In[]): Promise<Out[]> {
    const outputs = await this.runBatch(inputs);
    if (outputs.length !== inputs.length) throw new Error(`batch returned ${outputs.length} results for ${inputs.length} requests`);
    return outputs;
  }
}

/**
 * One coalescer per owner (a database handle), created on first use, so every
 * caller in the process that uses the same pool shares the batches.
 */
export function coalescerPer<Owner extends object, In, Out>(
  create: (owner: Owner) => Coalescer<In, Out>,
): (owner: Owner) => Coalescer<In, Out> {
  const byOwner = new WeakMap<Owner, Coalescer<In, Out>>();
  return (owner) => {
    let coalescer = byOwner.get(owner);
    if (!coalescer) {
      coalescer = create(owner);
      byOwner.set(owner, coalescer);
    }
    return coalescer;
  };
}
