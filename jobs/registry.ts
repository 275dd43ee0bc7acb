import type { AnyJob } from '../src/queue/job.js';

/**
 * Every job reverify runs. The worker dispatches by name from this list, and
 * enqueue calls take their names from it.
 */
export const jobs = [
] as const satisfies readonly AnyJob[];

export type JobName = (typeof jobs)[number]['name'];
