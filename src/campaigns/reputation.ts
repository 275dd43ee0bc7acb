import { sql, type Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { recordAudit } from '../audit/audit.js';
import { tryTransitionCampaign } from './campaigns.js';

/**
 * The reputation guard: a running campaign pauses itself when its bounce or
 * complaint rate passes the limit (REPUTATION_MAX_BOUNCE_RATE,
 * REPUTATION_MAX_COMPLAINT_RATE) once it has sent REPUTATION_MIN_SAMPLE
 * messages, and its status_reason gives the figures. Rates come from the
 * ledger's timestamp columns, which the SES webhook fills in.
 *
 * It counts the bounces SES counts against the sender: permanent ones, but
 * not those SES answered itself because the address is on the account's or
 * SES's global suppression list (bounce types below). Transient bounces set
 * no bounced_at: `campaign show` lists them, they never pause.
 */

/** Permanent bounces SES does not hold against the sender's bounce rate. */
export const UNCOUNTED_BOUNCE_TYPES: readonly string[] = ['Permanent/OnAccountSuppressionList', 'Permanent/Suppressed'];

/** SQL: the ledger row bounced in a way SES counts (a row bounced before bounce types were kept counts). */
export const countedBounce = sql<boolean>`(bounced_at IS NOT NULL AND (bounce_type IS NULL OR bounce_type NOT IN (${sql.join(UNCOUNTED_BOUNCE_TYPES)})))`;

type GuardConfig = Pick<Config, 'REPUTATION_MIN_SAMPLE' | 'REPUTATION_MAX_BOUNCE_RATE' | 'REPUTATION_MAX_COMPLAINT_RATE'>;

/** Why the figures call for a pause, or null when they do not. Pure, for the table test. */
export function reputationBreach(figures: { sent: number; bounced: number; complained: number }, config: GuardConfig): string | null {
  const { sent, bounced, complained } = figures;
  if (sent < config.REPUTATION_MIN_SAMPLE || sent === 0) return null;
  const bounceRate = bounced / sent;
  const complaintRate = complained / sent;
  if (bounceRate > config.REPUTATION_MAX_BOUNCE_RATE) {
    return `bounce rate ${percent(bounceRate)} (${bounced} of ${sent} sent) is above REPUTATION_MAX_BOUNCE_RATE ${percent(config.REPUTATION_MAX_BOUNCE_RATE)}`;
  }
  if (complaintRate > config.REPUTATION_MAX_COMPLAINT_RATE) {
    return `complaint rate ${percent(complaintRate)} (${complained} of ${sent} sent) is above REPUTATION_MAX_COMPLAINT_RATE ${percent(config.REPUTATION_MAX_COMPLAINT_RATE)}`;
  }
  return null;
}

function percent(rate: number): string {
  return `${Number((rate * 100).toFixed(2))}%`;
}

/** Pauses campaign `campaignId` if it is running and its rates pass the limits; says why. */
export async function enforceReputationGuard(
  db: Kysely<Database>,
  config: Config,
  campaignId: string,
): Promise<{ paused: boolean; reason?: string }> {
  const figures = await db
    .selectFrom('campaign_recipients')
    .select((eb) => [
      eb.fn.count<string>('sent_at').as('sent'),
      eb.fn.countAll<string>().filterWhere(countedBounce).as('bounced'),
      eb.fn.count<string>('complained_at').as('complained'),
    ])
    .where('campaign_id', '=', campaignId)
    .executeTakeFirstOrThrow();
  const reason = reputationBreach(
    { sent: Number(figures.sent), bounced: Number(figures.bounced), complained: Number(figures.complained) },
    config,
  );
  if (reason === null) return { paused: false };
  const statusReason = `paused by the reputation guard: ${reason}`;
  const paused = await tryTransitionCampaign(db, campaignId, 'paused', { now: new Date(), reason: statusReason, from: ['running'] });
  if (!paused) return { paused: false, reason };
  await recordAudit(db, { actor: 'campaign', action: 'campaign.paused', reason: 'reputation_guard', details: { campaignId, why: reason } });
  return { paused: true, reason: statusReason };
}
