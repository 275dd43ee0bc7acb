import type { CampaignStatus } from '../db/database.js';

/**
 * The campaign state machine. A campaign is created as a draft, becomes
 * scheduled once its tick schedule is registered, runs from its first tick,
 * may be paused (by an operator, the reputation guard or SES pausing the
 * account) and resumed, and ends completed or cancelled. Ended campaigns never
 * move again.
 */
export const CAMPAIGN_TRANSITIONS: Readonly<Record<CampaignStatus, readonly CampaignStatus[]>> = {
  draft: ['scheduled', 'cancelled'],
  scheduled: ['running', 'paused', 'cancelled'],
  running: ['paused', 'completed', 'cancelled'],
  paused: ['running', 'cancelled'],
  completed: [],
  cancelled: [],
};

export const CAMPAIGN_STATUSES = Object.keys(CAMPAIGN_TRANSITIONS) as CampaignStatus[];

/** True when a campaign in `from` may move to `to`. */
export function canTransition(from: CampaignStatus, to: CampaignStatus): boolean {
  return CAMPAIGN_TRANSITIONS[from].includes(to);
}

/** The states a campaign may be in to move to `to`. */
export function statesLeadingTo(to: CampaignStatus): CampaignStatus[] {
  return CAMPAIGN_STATUSES.filter((from) => canTransition(from, to));
}

/** True for states a campaign never leaves. */
export function isFinished(status: CampaignStatus): boolean {
  return CAMPAIGN_TRANSITIONS[status].length === 0;
}
