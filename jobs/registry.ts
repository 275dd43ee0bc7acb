import type { AnyJob } from '../src/queue/job.js';
import { campaignTickJob } from './campaign-tick.js';
import { reconcileJob } from './reconcile.js';
import { sendEmailJob } from './send-email.js';
import { sesAccountCheckJob } from './ses-account-check.js';
import { sesSuppressionSyncJob } from './ses-suppression-sync.js';
import { sweepExpireJob } from './sweep-expire.js';
import { sweepRemindJob } from './sweep-remind.js';

/**
 * Every job's handler. The worker dispatches by name from this list; each
 * handler's name, queue and payload schema come from jobs/contract/definitions.ts,
 * which producers enqueue through (jobs/contract/client.ts).
 */
export const jobs = [
  campaignTickJob,
  sendEmailJob,
  reconcileJob,
  sweepRemindJob,
  sweepExpireJob,
  sesAccountCheckJob,
  sesSuppressionSyncJob,
] as const satisfies readonly AnyJob[];
