import type { App } from '../app/app.js';
import { publishAccountMetrics } from './account-metrics.js';
import { claimAccountCall, readAccountState, recordAccountCheck, type AccountState, type CheckOutcome } from './account-state.js';
import { effectiveSendRate, enforcementBlock, readAccountFigures, type AccountFigures } from './figures.js';
import { classifyAccountError, sesAccountApiFor, type SesAccountApi } from './ses-account-api.js';

/**
 * The account check: one GetAccount call (at most one a second across every
 * process), recorded in the ses_account row and the metrics. The worker runs
 * it at start and every few minutes (jobs/ses-account-check.ts). What it
 * learns is logged once, when it changes: a rate clipped to the account's,
 * a fallback to the configured figures, an enforcement status.
 */

/** What a check found: the state now recorded, and whether this call was made (false: another process called within the second). */
export interface AccountCheckResult {
  readonly called: boolean;
  readonly state: AccountState;
}

/** Calls GetAccount (unless called within the last second), records and logs the answer. Never throws for SES's sake. */
export async function checkSesAccount(app: App, options: { api?: SesAccountApi } = {}): Promise<AccountCheckResult> {
  const now = app.clock();
  const before = await readAccountState(app.db, now);
  if (!(await claimAccountCall(app.db, now))) return { called: false, state: before };
  const answer = await callGetAccount(app, options.api ?? sesAccountApiFor(app));
  await recordAccountCheck(app.db, { now, ...answer });
  const after = await readAccountState(app.db, now);
  logChanges(app, before, after);
  publishAccountMetrics(app.config, after);
  return { called: true, state: after };
}

async function callGetAccount(app: App, api: SesAccountApi): Promise<{ outcome: CheckOutcome; problem: string | null; figures: AccountFigures | null }> {
  let answer;
  try {
    answer = await api.getAccount();
  } catch (error) {
    const outcome = classifyAccountError(error, app.config);
    const name = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { outcome, problem: name.slice(0, 500), figures: null };
  }
  const read = readAccountFigures(answer);
  if ('problems' in read) return { outcome: 'invalid', problem: read.problems.join('; '), figures: null };
  return { outcome: 'ok', problem: null, figures: read.figures };
}

const FALLBACK = 'sending at SES_MAX_SEND_RATE and keeping no 24-hour quota (the configured figures)';

/** Logs what changed between two checks, so a state that lasts is said once. */
function logChanges(app: App, before: AccountState, after: AccountState): void {
  const log = app.log.child({ component: 'ses-account' });
  const changed = after.outcome !== before.outcome || (after.outcome === 'invalid' && after.problem !== before.problem);
  if (after.outcome !== 'ok' && changed) {
    const why = {
      access_denied: 'SES refused GetAccount (AccessDenied): grant ses:GetAccount to see the account’s quota and status',
      unsupported: 'this SES (SES_ENDPOINT) does not answer GetAccount',
      invalid: 'GetAccount answered figures that cannot be right; ignoring them',
      error: 'GetAccount failed; trying again at the next check',
    }[after.outcome as Exclude<CheckOutcome, 'ok'>];
    const fallback = after.figures ? 'keeping the last good figures for now' : FALLBACK;
    log.warn({ outcome: after.outcome, problem: after.problem }, `${why}: ${fallback}`);
  }
  const rate = app.config.SES_MAX_SEND_RATE;
  const oldRate = effectiveSendRate(rate, before.figures);
  const newRate = effectiveSendRate(rate, after.figures);
  if (newRate !== oldRate && newRate < rate) {
    log.info({ configured: rate, account: after.figures?.maxSendRate }, `sending at the SES account's MaxSendRate ${newRate}/s, below SES_MAX_SEND_RATE ${rate}/s`);
  } else if (newRate !== oldRate) {
    log.info({ configured: rate }, `sending at SES_MAX_SEND_RATE ${rate}/s again`);
  }
  const oldStatus = before.figures?.enforcementStatus ?? null;
  const newStatus = after.figures?.enforcementStatus ?? null;
  if (newStatus !== null && newStatus !== oldStatus) {
    const block = enforcementBlock(newStatus);
    if (block) log.warn({ enforcementStatus: newStatus }, block);
    else if (oldStatus !== null) log.info({ enforcementStatus: newStatus }, `the SES account is ${newStatus} again; campaigns it paused stay paused until resumed`);
  }
}
