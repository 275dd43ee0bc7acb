import { sql, type Kysely } from 'kysely';
import { countedBounce } from './reputation.js';
import type { Campaign, CampaignStatus, Database } from '../db/database.js';
import { findCampaign, listCampaigns } from './campaigns.js';
import { countSegment } from './eligibility/segment.js';

/**
 * The campaign funnel, as `campaign show --json` and the admin API give it.
 *
 * - eligible: everyone the campaign covers: its ledger rows, plus (until the
 *   planner has walked the whole segment) segment members not yet planned.
 * - queued: rows that have been queued for sending (queued_at set), whatever
 *   became of them since; sent, delivered, bounced, complained and verified
 *   count the rows whose timestamp is set (the webhook and /verify fill them in).
 * - failed, skipped: rows in that final state (their `reason` says why).
 * - pending and waiting (extra): rows planned but not queued yet, and rows
 *   queued or being sent right now.
 * - unconfirmed (extra): rows whose send outcome a crash left unknown, waiting
 *   for SES's events (SES_SEND_EVENTS); sentTwice (extra): rows resent after
 *   that wait whose first message SES turned out to have taken after all
 *   (late_ses_message_id): those people got two messages.
 */
export interface CampaignCounts {
  eligible: number;
  queued: number;
  sent: number;
  delivered: number;
  bounced: number;
  complained: number;
  failed: number;
  skipped: number;
  verified: number;
  pending: number;
  waiting: number;
  unconfirmed: number;
  sentTwice: number;
  /** Bounces the reputation guard counts (permanent, as SES counts them): its bounce rate is these over `sent`. */
  bouncesCounted: number;
  /** Permanent bounces SES answered from a suppression list (OnAccountSuppressionList, Suppressed): in `bounced`, not counted. */
  bouncesNotCounted: number;
  /** Rows whose message bounced only transiently: shown, never counted. */
  transientBounces: number;
}

export interface CampaignSummary {
  id: string;
  name: string;
  status: CampaignStatus;
  /** Why it is paused or cancelled (reputation guard figures, SES account state, operator). */
  reason: string | null;
  template: string;
  segment: string;
  perDay: number;
  schedule: string;
  startsAt: string;
  createdAt: string;
  finishedAt: string | null;
  counts: CampaignCounts;
}

/** Funnel counts of one campaign from its ledger. */
export async function campaignCounts(db: Kysely<Database>, campaign: Campaign): Promise<CampaignCounts> {
  const row = await db
    .selectFrom('campaign_recipients')
    .select((eb) => [
      eb.fn.countAll<string>().as('planned'),
      eb.fn.count<string>('queued_at').as('queued'),
      eb.fn.count<string>('sent_at').as('sent'),
      eb.fn.count<string>('delivered_at').as('delivered'),
      eb.fn.count<string>('bounced_at').as('bounced'),
      eb.fn.count<string>('complained_at').as('complained'),
      eb.fn.count<string>('verified_at').as('verified'),
      eb.fn.countAll<string>().filterWhere('status', '=', 'failed').as('failed'),
      eb.fn.countAll<string>().filterWhere('status', '=', 'skipped').as('skipped'),
      eb.fn.countAll<string>().filterWhere('status', '=', 'pending').as('pending'),
      eb.fn.countAll<string>().filterWhere('status', 'in', ['queued', 'sending']).as('waiting'),
      eb.fn.countAll<string>().filterWhere('status', '=', 'unconfirmed').as('unconfirmed'),
      eb.fn.count<string>('late_ses_message_id').as('sentTwice'),
      eb.fn.countAll<string>().filterWhere(countedBounce).as('bouncesCounted'),
      eb.fn.countAll<string>().filterWhere(sql<boolean>`bounced_at IS NULL AND bounce_type IS NOT NULL`).as('transientBounces'),
    ])
    .where('campaign_id', '=', campaign.id)
    .executeTakeFirstOrThrow();
  const stillWalking = !campaign.planned_all && (campaign.status === 'draft' || campaign.status === 'scheduled' || campaign.status === 'running' || campaign.status === 'paused');
  const unplanned = stillWalking ? await countSegment(db, campaign.id) : 0;
  return {
    eligible: Number(row.planned) + unplanned,
    queued: Number(row.queued),
    sent: Number(row.sent),
    delivered: Number(row.delivered),
    bounced: Number(row.bounced),
    complained: Number(row.complained),
    failed: Number(row.failed),
    skipped: Number(row.skipped),
    verified: Number(row.verified),
    pending: Number(row.pending),
    waiting: Number(row.waiting),
    unconfirmed: Number(row.unconfirmed),
    sentTwice: Number(row.sentTwice),
    bouncesCounted: Number(row.bouncesCounted),
    bouncesNotCounted: Number(row.bounced) - Number(row.bouncesCounted),
    transientBounces: Number(row.transientBounces),
  };
}

/** The summary of campaign `id` (the object `campaign show --json` prints), or undefined. */
export async function getCampaignSummary(db: Kysely<Database>, id: string): Promise<CampaignSummary | undefined> {
  const campaign = await findCampaign(db, id);
  if (!campaign) return undefined;
  return summarize(campaign, await campaignCounts(db, campaign));
}

/** Summaries of every campaign, newest first. */
export async function listCampaignSummaries(db: Kysely<Database>): Promise<CampaignSummary[]> {
  const campaigns = await listCampaigns(db);
  const summaries: CampaignSummary[] = [];
  for (const campaign of campaigns) summaries.push(summarize(campaign, await campaignCounts(db, campaign)));
  return summaries;
}

function summarize(campaign: Campaign, counts: CampaignCounts): CampaignSummary {
  return {
    id: campaign.id,
    name: campaign.name,
    status: campaign.status,
    reason: campaign.status_reason,
    template: campaign.template,
    segment: campaign.segment,
    perDay: campaign.per_day,
    schedule: campaign.schedule,
    startsAt: campaign.starts_at.toISOString(),
    createdAt: campaign.created_at.toISOString(),
    finishedAt: campaign.finished_at ? campaign.finished_at.toISOString() : null,
    counts,
  };
}
