import type { App } from '../app/app.js';
import { recordAudit } from '../audit/audit.js';
import type { Campaign } from '../db/database.js';
import { templateSource, UnknownTemplateError, type RenderedMessage } from '../mail/render.js';
import { projectedDays, projectedFinish } from './budget.js';
import { getCampaign, insertCampaign, transitionCampaign, type NewCampaignInput } from './campaigns.js';
import { enqueueSendsAgain } from './enqueue.js';
import { releaseStaleQueuedRows } from './planner.js';
import { refuseResumeWhileAccountBlocked } from './account-enforcement.js';
import { refuseExternalLinks, renderSampleMessage, SAMPLE_RECIPIENT, type MessageRecipient } from './message.js';
import { queueFirstTick, scheduleCampaign, unscheduleCampaign } from './schedule.js';
import { countSegment, segmentBreakdown, segmentQuery, type ExclusionReason } from './eligibility/segment.js';
import { skipUnsentRows } from './ledger/ledger.js';

/**
 * What operators do to campaigns: create (and schedule), preview, pause,
 * resume and cancel. The CLI, the admin console and the dev stack's demo
 * campaign call these; `actor` names who acted in the audit rows (`cli`,
 * `web:<ADMIN_USER>`). Input has been validated by then.
 */

/** What creating a campaign takes: its fields, and whether it leaves out people other campaigns mailed lately. */
export type CreateCampaignInput = Omit<NewCampaignInput, 'eligibleAtCreate' | 'cooldownDays'> & {
  /** Include people another campaign mailed within CAMPAIGN_COOLDOWN_DAYS (`--ignore-cooldown`, API `ignoreCooldown`). */
  ignoreCooldown?: boolean;
};

/** Who acted, as audit rows name them, when the caller does not say. */
export const CLI_ACTOR = 'cli';

/**
 * Creates a campaign and registers its schedule; with dryRun only counts who
 * it would reach. Either way an unknown template is refused
 * (UnknownTemplateError), and a template linking anywhere but the
 * verification and stop links (ExternalLinksError, naming the file and line
 * of an operator's template) unless the input allows external links.
 * The campaign
 * keeps CAMPAIGN_COOLDOWN_DAYS as it is now (none with ignoreCooldown): a
 * later change of the setting applies to campaigns created after it.
 */
export async function createCampaign(
  app: App,
  input: CreateCampaignInput,
  options: { dryRun: boolean; actor?: string },
): Promise<{ campaign: Campaign | null; eligible: number }> {
  const now = app.clock();
  // Checked here, not in a caller: every way of creating a campaign (CLI, admin API) gets the same checks.
  if (templateSource(input.template) === undefined) throw new UnknownTemplateError(input.template);
  if (!input.allowExternalLinks) refuseExternalLinks(app.config, input.template, now);
  const { ignoreCooldown = false, ...fields } = input;
  const cooldownDays = ignoreCooldown || app.config.CAMPAIGN_COOLDOWN_DAYS === 0 ? null : app.config.CAMPAIGN_COOLDOWN_DAYS;
  if (options.dryRun) return { campaign: null, eligible: await countSegment(app.db, '0', { days: cooldownDays, now }) };
  const draft = await app.db.transaction().execute(async (trx) => {
    const inserted = await insertCampaign(trx, { ...fields, eligibleAtCreate: 0, cooldownDays }, now);
    const eligible = await countSegment(trx, inserted.id);
    await trx.updateTable('campaigns').set({ eligible_at_create: eligible }).where('id', '=', inserted.id).execute();
    await recordAudit(trx, { actor: options.actor ?? CLI_ACTOR, action: 'campaign.created', details: { campaignId: inserted.id, name: input.name, eligible, cooldownDays } });
    return { ...inserted, eligible_at_create: eligible };
  });
  // A failure here leaves a draft an operator can see (and cancel); nothing would tick it.
  await scheduleCampaign(app, draft);
  const scheduled = await transitionCampaign(app.db, draft.id, 'scheduled', { now });
  // Only now: a worker may take the first tick at once, and a tick ignores a draft.
  await queueFirstTick(app, scheduled);
  return { campaign: scheduled, eligible: draft.eligible_at_create };
}

export interface CampaignPreview {
  eligible: number;
  excluded: Partial<Record<ExclusionReason, number>>;
  projectedDays: number;
  projectedFinish: string | null;
  message: RenderedMessage & { to: string };
}

/** Who campaign `id` would still reach, who it leaves out and why, how long it takes, and one rendered message. */
export async function previewCampaign(app: App, id: string): Promise<CampaignPreview> {
  const campaign = await getCampaign(app.db, id);
  const now = app.clock();
  const { eligible, excluded } = await segmentBreakdown(app.db, campaign.id);
  const start = campaign.starts_at.getTime() > now.getTime() ? campaign.starts_at : now;
  const recipient = (await firstRecipient(app, campaign.id)) ?? SAMPLE_RECIPIENT;
  const message = renderSampleMessage(app.config, campaign.template, recipient, now);
  return {
    eligible,
    excluded,
    projectedDays: projectedDays(eligible, campaign.per_day),
    projectedFinish: projectedFinish(eligible, campaign.per_day, start),
    message: { to: recipient.email, ...message },
  };
}

/** The first segment member (by user id) campaign `campaignId` would mail, to render an example message for. */
export async function firstRecipient(app: App, campaignId: string): Promise<MessageRecipient | undefined> {
  const member = await segmentQuery(app.db, campaignId)
    .select('u.username')
    .orderBy('e.user_id')
    .limit(1)
    .executeTakeFirst();
  if (!member) return undefined;
  const roles = await app.db
    .selectFrom('roles')
    .select('project_name')
    .where('user_id', '=', member.user_id)
    .orderBy('project_name')
    .limit(20)
    .execute();
  return { username: member.username, email: member.email, projects: roles.map((role) => role.project_name) };
}

/** Pauses campaign `id`: its queued send jobs do nothing until it resumes. */
export async function pauseCampaign(app: App, id: string, reason = 'paused by an operator', actor = CLI_ACTOR): Promise<Campaign> {
  const campaign = await transitionCampaign(app.db, id, 'paused', { now: app.clock(), reason });
  await recordAudit(app.db, { actor, action: 'campaign.paused', reason, details: { campaignId: id } });
  return campaign;
}

/**
 * Resumes campaign `id` (refused while the SES account is on PROBATION or SHUTDOWN): rows queued for an earlier day go back to pending,
 * today's queued rows get their send jobs again, and the schedule ticks on.
 */
export async function resumeCampaign(app: App, id: string, actor = CLI_ACTOR): Promise<Campaign> {
  await refuseResumeWhileAccountBlocked(app, id);
  const now = app.clock();
  const campaign = await transitionCampaign(app.db, id, 'running', { now });
  await releaseStaleQueuedRows(app.db, id, now);
  const queued = await app.db
    .selectFrom('campaign_recipients')
    .select('id')
    .where('campaign_id', '=', id)
    .where('status', '=', 'queued')
    .orderBy('id')
    .execute();
  // Their jobs ran while it was paused and finished, leaving them queued.
  await enqueueSendsAgain(app, queued.map((row) => row.id));
  await scheduleCampaign(app, campaign);
  await recordAudit(app.db, { actor, action: 'campaign.resumed', details: { campaignId: id, requeued: queued.length } });
  return campaign;
}

/** Cancels campaign `id`: every unsent row is skipped (`campaign_cancelled`) and the schedule removed. */
export async function cancelCampaign(app: App, id: string, reason = 'cancelled by an operator', actor = CLI_ACTOR): Promise<Campaign> {
  const now = app.clock();
  const campaign = await transitionCampaign(app.db, id, 'cancelled', { now, reason });
  const skipped = await skipUnsentRows(app.db, id, 'campaign_cancelled', now);
  await unscheduleCampaign(app, id);
  await recordAudit(app.db, { actor, action: 'campaign.cancelled', reason, details: { campaignId: id, skipped } });
  return campaign;
}
