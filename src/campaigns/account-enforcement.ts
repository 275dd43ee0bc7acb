import type { App } from '../app/app.js';
import { recordAudit } from '../audit/audit.js';
import { checkSesAccount } from '../ses-account/account-check.js';
import { accountBlock, forgetCachedAccountState } from '../ses-account/account-limits.js';
import { pauseAllCampaigns, tryTransitionCampaign, CampaignStateError } from './campaigns.js';

/**
 * What the SES account's enforcement status does to campaigns: PROBATION or
 * SHUTDOWN pauses every running (and scheduled) campaign with the reason, a
 * campaign refuses to resume while it lasts, and nothing resumes by itself
 * when it ends (an operator decides).
 */

/** Runs the account check and pauses every campaign while the account is blocked; returns the ids it paused. */
export async function checkAccountAndEnforce(app: App): Promise<{ paused: string[]; block: string | null }> {
  await checkSesAccount(app);
  forgetCachedAccountState(app);
  const block = await accountBlock(app, { fresh: true });
  if (!block) return { paused: [], block };
  return { paused: await pauseCampaignsForAccount(app, block), block };
}

/** Pauses every running or scheduled campaign because of the account's status, with an audit row each. */
export async function pauseCampaignsForAccount(app: App, block: string): Promise<string[]> {
  const now = app.clock();
  const paused = await pauseAllCampaigns(app.db, `paused: ${block}`, now);
  if (paused.length === 0) return paused;
  await recordAudit(
    app.db,
    paused.map((campaignId) => ({ actor: 'campaign', action: 'campaign.paused', reason: 'ses_account_enforcement', details: { campaignId, why: block } })),
  );
  app.log.warn({ campaigns: paused }, `paused ${paused.length} campaign(s): ${block}`);
  return paused;
}

/** Pauses campaign `campaignId` at its tick when the account is blocked (a campaign that started after the check paused the others); true when blocked. */
export async function pauseIfAccountBlocked(app: App, campaignId: string): Promise<boolean> {
  const block = await accountBlock(app);
  if (!block) return false;
  const paused = await tryTransitionCampaign(app.db, campaignId, 'paused', { now: app.clock(), reason: `paused: ${block}`, from: ['running'] });
  if (paused) await recordAudit(app.db, { actor: 'campaign', action: 'campaign.paused', reason: 'ses_account_enforcement', details: { campaignId, why: block } });
  return true;
}

/**
 * Refuses to resume campaign `id` while the account is blocked. The recorded
 * status may be minutes old, so a blocked one is checked again with SES
 * first: an operator resuming right after SES lifted it is not turned away.
 */
export async function refuseResumeWhileAccountBlocked(app: App, id: string): Promise<void> {
  if (!(await accountBlock(app, { fresh: true }))) return;
  await checkSesAccount(app);
  forgetCachedAccountState(app);
  const block = await accountBlock(app, { fresh: true });
  if (block) throw new CampaignStateError(`campaign ${id} cannot resume: ${block}`);
}
