import { SEND_SLOTS } from './pace.js';

/** A counting semaphore: at most `size` holders at once, waiters served in order. */
export class Slots {
  private free: number;
  private readonly waiters: Array<() => void> = [];

  constructor(size: number) {
    this.free = size;
  }

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Hands the slot to the next waiter, or frees it. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free += 1;
  }

  /** Runs `work` holding a slot. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      this.release();
    }
  }
}

const slotsByOwner = new WeakMap<object, Slots>();

/** The send slots of a running app (one set per process: SEND_SLOTS calls in flight), created on first use. */
export function sendSlotsFor(app: object): Slots {
  let slots = slotsByOwner.get(app);
  if (!slots) {
    slots = new Slots(SEND_SLOTS);
    slotsByOwner.set(app, slots);
  }
  return slots;
}
