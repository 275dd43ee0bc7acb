import type { App } from '../app.js';
import { QUEUE_NAMES } from '../queue/names.js';

/** The send job's name and its deterministic id: one job per ledger row, whoever enqueues it. */
export const SEND_JOB = 'send-email';

/** The job id of ledger row `recipientId` (BullMQ ignores an add whose id exists). */
export function sendJobId(recipientId: string): string {
  return `send-${recipientId}`;
}

const ENQUEUE_CHUNK = 1_000;

/** Adds a send job for each ledger row id, in chunks; ids already in the queue are left as they are. */
export async function enqueueSends(app: App, recipientIds: readonly string[]): Promise<void> {
  const queue = app.queues.get(QUEUE_NAMES.send);
  for (let start = 0; start < recipientIds.length; start += ENQUEUE_CHUNK) {
    const chunk = recipientIds.slice(start, start + ENQUEUE_CHUNK);
    await queue.addBulk(
      chunk.map((recipientId) => ({ name: SEND_JOB, data: { recipientId }, opts: { jobId: sendJobId(recipientId) } })),
    );
  }
}
