import type { App } from '../app/app.js';
import { QUEUE_NAMES } from '../queue/names.js';
import { withTimeout } from '../queue/timeout.js';

/** How long after its start a campaign's first tick may take before `campaign show` calls it late. */
export const FIRST_TICK_GRACE_MS = 60_000;

/** How long the CLI waits for the queue store to say who reads it. */
const ASK_TIMEOUT_MS = 5_000;

/**
 * Why a campaign that should tick may not, or undefined: a scheduled
 * campaign (no tick taken yet) whose queue no worker reads — a worker on
 * another QUEUE_PREFIX or backend, or none at all — or whose first tick is
 * over a minute late although a worker reads it. Without this a campaign
 * created with the wrong settings stays `scheduled` forever, silently.
 */
export async function firstTickWarning(app: App, campaign: { status: string; startsAt: Date }): Promise<string | undefined> {
  if (campaign.status !== 'scheduled') return undefined;
  const readers = await workersReadingCampaigns(app);
  const late = app.clock().getTime() - campaign.startsAt.getTime() > FIRST_TICK_GRACE_MS;
  const where = `queue prefix ${app.config.QUEUE_PREFIX} on backend ${app.queueBackend.kind} (${app.queueBackend.location})`;
  const due = `its first tick, due at ${campaign.startsAt.toISOString()},`;
  if (readers === undefined) return `could not ask the queue store whether a worker reads ${where}`;
  if (readers === 0) {
    return `no worker is reading ${where}: ${due} ${late ? 'has not been taken' : 'waits until one does'}. ` +
      'Start "reverify worker" (or "reverify start") with the same QUEUE_BACKEND, QUEUE_PREFIX and database.';
  }
  if (late) return `${due} has not been taken although ${readers} worker(s) read ${where}: look at their logs`;
  return undefined;
}

/** Workers reading the campaigns queue now, or undefined when the store did not say in time. */
async function workersReadingCampaigns(app: App): Promise<number | undefined> {
  try {
    return (await withTimeout(app.queues.get(QUEUE_NAMES.campaigns).getWorkers(), ASK_TIMEOUT_MS, 'queue store')).length;
  } catch {
    return undefined;
  }
}
