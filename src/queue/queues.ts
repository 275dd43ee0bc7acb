import type { DefaultJobOptions, Queue } from 'bullmq';
import type { QueueBackend } from './backend.js';
import { ALL_QUEUES, type QueueName } from './names.js';

/**
 * Finished jobs are kept an hour (at most 1,000 a queue) so the dashboard
 * shows what just ran, failed ones a week (at most 1,000): a bounded sample,
 * since the ledger in PostgreSQL is the record, and the queue store stays
 * flat through a million-job campaign. A kept job holds its id: rows sent
 * again under the same id go through enqueueSendsAgain.
 */
export const DEFAULT_JOB_OPTIONS: DefaultJobOptions = {
  removeOnComplete: { count: 1000, age: 3600 },
  removeOnFail: { count: 1000, age: 7 * 24 * 3600 },
  attempts: 8,
  backoff: { type: 'exponential', delay: 2000 },
};

/** The producer side of every queue, sharing one connection. */
export class Queues {
  private readonly queues = new Map<QueueName, Queue>();

  constructor(private readonly backend: QueueBackend) {}

  /** The Queue for `name`, created on first use. */
  get(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = this.backend.newQueue(name, DEFAULT_JOB_OPTIONS);
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Every queue, for the dashboard and the metrics. */
  all(): Queue[] {
    return ALL_QUEUES.map((name) => this.get(name));
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    this.queues.clear();
  }
}
