import type { AnyJob } from '../src/queue/job.js';
import { campaignTickJob } from './campaign-tick.js';
import { reconcileJob } from './reconcile.js';
import { sendEmailJob } from './send-email.js';
import { sweepExpireJob } from './sweep-expire.js';
import { sweepRemindJob } from './sweep-remind.js';

/**
 * Every job reverify runs. The worker dispatches by name from this list, and
 * enqueue calls take their names from it.
 */
export const jobs = [
  campaignTickJob,
  sendEmailJob,
  reconcileJob,
  sweepRemindJob,
  sweepExpireJob,
] as const satisfies readonly AnyJob[];

export type JobName = (typeof jobs)[number]['name'];
