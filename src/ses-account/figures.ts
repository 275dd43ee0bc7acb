import type { QuotaReserve } from '../config.js';

/**
 * What the SES account allows, from a GetAccount answer, and what follows
 * from it for reverify's sending. Pure: the table tests drive it directly.
 */

/** The enforcement states SES reports; anything else is kept as it came. */
export type EnforcementStatus = 'HEALTHY' | 'PROBATION' | 'SHUTDOWN' | (string & {});

/** The statuses that stop every campaign until SES lifts them. */
export const BLOCKING_STATUSES: readonly string[] = ['PROBATION', 'SHUTDOWN'];

export interface AccountFigures {
  /** Messages a second (SendQuota.MaxSendRate). */
  readonly maxSendRate: number;
  /** Messages in a rolling 24 hours (SendQuota.Max24HourSend). */
  readonly max24HourSend: number;
  /** What the account sent in the last 24 hours, campaigns and the site's other mail together. */
  readonly sentLast24Hours: number;
  readonly enforcementStatus: EnforcementStatus;
  readonly sendingEnabled: boolean | null;
}

/** The parts of a GetAccount answer read here (SESv2 GetAccountResponse). */
export interface GetAccountAnswer {
  readonly SendQuota?: { readonly MaxSendRate?: number; readonly Max24HourSend?: number; readonly SentLast24Hours?: number };
  readonly EnforcementStatus?: string;
  readonly SendingEnabled?: boolean;
}

/**
 * The figures of a GetAccount answer, or every problem with them: a figure
 * missing, not a number, negative, or a rate or quota of zero (an account
 * allowed to send nothing is an answer not to trust: SES pauses an account
 * through EnforcementStatus, not by zeroing its quota). Max24HourSend -1
 * means "unlimited" in SES's API: kept as Infinity.
 */
export function readAccountFigures(answer: GetAccountAnswer): { figures: AccountFigures } | { problems: string[] } {
  const quota = answer.SendQuota ?? {};
  const problems: string[] = [];
  const rate = quota.MaxSendRate;
  const daily = quota.Max24HourSend;
  const sent = quota.SentLast24Hours;
  if (!isNumber(rate) || rate <= 0) problems.push(`SendQuota.MaxSendRate is ${describe(rate)}, not a positive number`);
  if (!isNumber(daily) || (daily <= 0 && daily !== -1)) problems.push(`SendQuota.Max24HourSend is ${describe(daily)}, not a positive number`);
  if (!isNumber(sent) || sent < 0) problems.push(`SendQuota.SentLast24Hours is ${describe(sent)}, not a number of at least 0`);
  const status = answer.EnforcementStatus;
  if (typeof status !== 'string' || status === '') problems.push('EnforcementStatus is missing');
  if (problems.length > 0) return { problems };
  return {
    figures: {
      maxSendRate: rate as number,
      max24HourSend: daily === -1 ? Infinity : (daily as number),
      sentLast24Hours: sent as number,
      enforcementStatus: status as string,
      sendingEnabled: typeof answer.SendingEnabled === 'boolean' ? answer.SendingEnabled : null,
    },
  };
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function describe(value: unknown): string {
  return value === undefined ? 'missing' : JSON.stringify(value);
}

/** The account-wide send rate: the configured one, clipped to the account's MaxSendRate when that is lower. */
export function effectiveSendRate(configuredRate: number, figures: Pick<AccountFigures, 'maxSendRate'> | null): number {
  return figures === null ? configuredRate : Math.min(configuredRate, figures.maxSendRate);
}

/** Messages of the 24-hour quota kept for the site's other mail (SES_QUOTA_RESERVE), rounded up. */
export function reservedMessages(reserve: QuotaReserve, max24HourSend: number): number {
  if ('messages' in reserve) return reserve.messages;
  return Number.isFinite(max24HourSend) ? Math.ceil(reserve.share * max24HourSend) : 0;
}

/**
 * How many more campaign messages the 24-hour quota allows now:
 * Max24HourSend − SentLast24Hours − reserve, minus the campaign messages
 * sent or about to be sent since SES counted (`sinceCounted`). Never negative;
 * Infinity for an unlimited account.
 */
export function campaignQuotaLeft(figures: Pick<AccountFigures, 'max24HourSend' | 'sentLast24Hours'>, reserve: QuotaReserve, sinceCounted: number): number {
  if (!Number.isFinite(figures.max24HourSend)) return Infinity;
  const left = figures.max24HourSend - figures.sentLast24Hours - reservedMessages(reserve, figures.max24HourSend) - sinceCounted;
  return Math.max(0, Math.floor(left));
}

/** Why campaigns may not send while the account is in `status`, or null when they may. */
export function enforcementBlock(status: EnforcementStatus | null): string | null {
  if (status === null || !BLOCKING_STATUSES.includes(status)) return null;
  return `the SES account is under ${status} (GetAccount EnforcementStatus): campaigns stay paused until SES lifts it; resume them then with "reverify campaign resume ID"`;
}

/**
 * Why SES takes no mail at all from the account now (SHUTDOWN, or sending
 * disabled), or null. Unlike enforcementBlock this leaves PROBATION alone:
 * under probation SES still sends, and mail a person asked for goes out.
 */
export function accountSendingStopped(figures: Pick<AccountFigures, 'enforcementStatus' | 'sendingEnabled'> | null): string | null {
  if (figures === null) return null;
  if (figures.enforcementStatus === 'SHUTDOWN') return 'ses_account_shutdown: the SES account is under SHUTDOWN (GetAccount EnforcementStatus) and sends nothing';
  if (figures.sendingEnabled === false) return 'ses_sending_disabled: sending is disabled for the SES account (GetAccount SendingEnabled false)';
  return null;
}
