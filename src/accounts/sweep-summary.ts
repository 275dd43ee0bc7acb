import type { ExpireResult } from './expire.js';
import type { RemindResult } from './remind.js';
import type { SweepOutcome } from './sweep-runner.js';

/**
 * The JSON shapes `reverify sweep … --json` prints and sweep jobs return.
 * The first keys are the contract; the rest help an operator find the run.
 */

interface RunFields {
  dryRun: boolean;
  skipped: boolean;
  runId: number;
  asOf: string;
  /** Set when the run was skipped: why. */
  message?: string;
}

export type ExpireSummary = Pick<ExpireResult, 'expired' | 'sessionsRevoked' | 'tokensRevoked' | 'sessionsRevokedAfterExpiry' | 'tokensRevokedAfterExpiry'> &
  RunFields & { batches: number; longestBatchMs: number };

export type RemindSummary = Pick<RemindResult, 'reminded'> & RunFields;

/** The summary of an expiry sweep; a skipped run did nothing, so its counts are 0. */
export function expireSummary(outcome: SweepOutcome<ExpireResult>): ExpireSummary {
  const result = outcome.skipped ? undefined : outcome.result;
  return {
    expired: result?.expired ?? 0,
    sessionsRevoked: result?.sessionsRevoked ?? 0,
    tokensRevoked: result?.tokensRevoked ?? 0,
    ...runFields(outcome),
    sessionsRevokedAfterExpiry: result?.sessionsRevokedAfterExpiry ?? 0,
    tokensRevokedAfterExpiry: result?.tokensRevokedAfterExpiry ?? 0,
    batches: result?.batches ?? 0,
    longestBatchMs: result?.longestBatchMs ?? 0,
  };
}

/** The summary of a reminder sweep; a skipped run did nothing, so its count is 0. */
export function remindSummary(outcome: SweepOutcome<RemindResult>): RemindSummary {
  return { reminded: outcome.skipped ? 0 : outcome.result.reminded, ...runFields(outcome) };
}

function runFields(outcome: SweepOutcome<unknown>): RunFields {
  return {
    dryRun: outcome.dryRun,
    skipped: outcome.skipped,
    runId: Number(outcome.runId),
    asOf: outcome.asOf.toISOString(),
    ...(outcome.skipped ? { message: outcome.message } : {}),
  };
}
