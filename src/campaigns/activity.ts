import { sql, type Kysely } from 'kysely';
import type { Campaign, Database } from '../db/database.js';
import { addDays, utcDay } from './budget.js';
import type { CampaignCounts } from './summary.js';

/**
 * A campaign over time, for its page in the console: sends, deliveries,
 * bounces and verifications per UTC hour (while its activity spans two days
 * or less) or per UTC day, today's budget and when it should finish.
 */

export type ActivityKind = 'sent' | 'delivered' | 'bounced' | 'verified';
export const ACTIVITY_KINDS: readonly ActivityKind[] = ['sent', 'delivered', 'bounced', 'verified'];

export interface ActivityBucket {
  /** Start of the hour or day, ISO 8601 UTC. */
  start: string;
  counts: Record<ActivityKind, number>;
}

export interface CampaignActivity {
  unit: 'hour' | 'day';
  buckets: ActivityBucket[];
}

const HOUR_MS = 3_600_000;
/** Activity spanning up to this long is drawn per hour. */
const HOURLY_SPAN_MS = 48 * HOUR_MS;
/** The chart shows at most this many days: the most recent ones. */
const MAX_DAYS = 92;

/** Sends, deliveries, bounces and verifications of campaign `campaignId` per hour or day, gaps filled with zeros. */
export async function campaignActivity(db: Kysely<Database>, campaignId: string): Promise<CampaignActivity> {
  const span = await db
    .selectFrom('campaign_recipients')
    .select((eb) => [eb.fn.min('sent_at').as('first'), eb.fn.max(sql<Date>`greatest(sent_at, delivered_at, bounced_at, verified_at)`).as('last')])
    .where('campaign_id', '=', campaignId)
    .executeTakeFirstOrThrow();
  const first = span.first ? new Date(span.first) : undefined;
  const last = span.last ? new Date(span.last) : undefined;
  if (!first || !last) return { unit: 'hour', buckets: [] };
  const unit = last.getTime() - first.getTime() <= HOURLY_SPAN_MS ? 'hour' : 'day';
  const format = unit === 'hour' ? 'YYYY-MM-DD"T"HH24":00:00Z"' : 'YYYY-MM-DD"T00:00:00Z"';
  const rows = await sql<{ start: string; kind: ActivityKind; n: string }>`
    SELECT to_char(date_trunc(${unit}, v.at AT TIME ZONE 'UTC'), ${format}) AS start, v.kind, count(*) AS n
    FROM campaign_recipients cr
    CROSS JOIN LATERAL (VALUES ('sent', cr.sent_at), ('delivered', cr.delivered_at), ('bounced', cr.bounced_at), ('verified', cr.verified_at)) AS v(kind, at)
    WHERE cr.campaign_id = ${campaignId} AND v.at IS NOT NULL
    GROUP BY 1, 2`.execute(db);
  const byStart = new Map<string, ActivityBucket>();
  for (const start of bucketStarts(unit, first, last)) byStart.set(start, { start, counts: { sent: 0, delivered: 0, bounced: 0, verified: 0 } });
  for (const row of rows.rows) {
    const bucket = byStart.get(row.start);
    // Buckets older than the chart's window are left out.
    if (bucket) bucket.counts[row.kind] = Number(row.n);
  }
  return { unit, buckets: [...byStart.values()] };
}

/** Every hour or day from `first` to `last` (UTC), the last MAX_DAYS days at most. */
function bucketStarts(unit: 'hour' | 'day', first: Date, last: Date): string[] {
  const starts: string[] = [];
  if (unit === 'hour') {
    for (let t = Math.floor(first.getTime() / HOUR_MS) * HOUR_MS; t <= last.getTime(); t += HOUR_MS) starts.push(new Date(t).toISOString().replace('.000Z', 'Z'));
    return starts;
  }
  const lastDay = utcDay(last);
  const firstDay = utcDay(first) < addDays(lastDay, -(MAX_DAYS - 1)) ? addDays(lastDay, -(MAX_DAYS - 1)) : utcDay(first);
  for (let day = firstDay; day <= lastDay; day = addDays(day, 1)) starts.push(`${day}T00:00:00Z`);
  return starts;
}

export interface CampaignProgress {
  /** Rows queued for today's UTC day (what the budget counts). */
  usedToday: number;
  perDay: number;
  /** People still to be queued: eligible minus everyone the ledger has moved past pending. */
  remaining: number;
  /** The UTC day the last of them should be queued at this budget; null when finished, cancelled or nobody is left. */
  projectedFinish: string | null;
}

/** Today's budget used and the projected finish of `campaign` at `now`. */
export async function campaignProgress(db: Kysely<Database>, campaign: Campaign, counts: CampaignCounts, now: Date): Promise<CampaignProgress> {
  const row = await db
    .selectFrom('campaign_recipients')
    .select((eb) => [
      eb.fn.countAll<string>().filterWhere('send_day', '=', utcDay(now)).as('today'),
      eb.fn.countAll<string>().filterWhere('status', '!=', 'pending').as('moved'),
    ])
    .where('campaign_id', '=', campaign.id)
    .executeTakeFirstOrThrow();
  const usedToday = Number(row.today);
  const remaining = Math.max(0, counts.eligible - Number(row.moved));
  const open = campaign.status === 'scheduled' || campaign.status === 'running' || campaign.status === 'paused' || campaign.status === 'draft';
  return { usedToday, perDay: campaign.per_day, remaining, projectedFinish: open ? finishDay(remaining, campaign, usedToday, now) : null };
}

/** Today takes what is left of today's budget (once the campaign has started), each later day `per_day`. */
function finishDay(remaining: number, campaign: Campaign, usedToday: number, now: Date): string | null {
  if (remaining === 0) return null;
  const started = campaign.starts_at.getTime() <= now.getTime();
  const firstDay = started ? utcDay(now) : utcDay(campaign.starts_at);
  const firstDayRoom = started ? Math.max(0, campaign.per_day - usedToday) : campaign.per_day;
  if (remaining <= firstDayRoom) return firstDay;
  return addDays(firstDay, Math.ceil((remaining - firstDayRoom) / campaign.per_day));
}
