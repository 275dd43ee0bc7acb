import type { Kysely } from 'kysely';
import type { CampaignStatus, Database } from '../db/database.js';
import { getCampaignSummary, type CampaignSummary } from './summary.js';

/** The console's campaign list: filtered by state group, a page at a time, newest first. */

export const CAMPAIGN_FILTERS = {
  all: null,
  running: ['draft', 'scheduled', 'running'],
  paused: ['paused'],
  finished: ['completed', 'cancelled'],
} as const satisfies Record<string, readonly CampaignStatus[] | null>;

export type CampaignFilter = keyof typeof CAMPAIGN_FILTERS;

export function isCampaignFilter(value: string): value is CampaignFilter {
  return Object.hasOwn(CAMPAIGN_FILTERS, value);
}

/** Page `page` (1-based) of `perPage` summaries matching `filter`, and how many match in all. */
export async function pageOfCampaignSummaries(
  db: Kysely<Database>,
  options: { filter: CampaignFilter; page: number; perPage: number },
): Promise<{ summaries: CampaignSummary[]; total: number }> {
  const statuses = CAMPAIGN_FILTERS[options.filter];
  let ids = db.selectFrom('campaigns').select('id');
  let count = db.selectFrom('campaigns').select((eb) => eb.fn.countAll<string>().as('n'));
  if (statuses) {
    ids = ids.where('status', 'in', statuses);
    count = count.where('status', 'in', statuses);
  }
  const rows = await ids
    .orderBy('id', 'desc')
    .limit(options.perPage)
    .offset((options.page - 1) * options.perPage)
    .execute();
  const summaries: CampaignSummary[] = [];
  for (const row of rows) {
    const summary = await getCampaignSummary(db, row.id);
    if (summary) summaries.push(summary);
  }
  return { summaries, total: Number((await count.executeTakeFirstOrThrow()).n) };
}
