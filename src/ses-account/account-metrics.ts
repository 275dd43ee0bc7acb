import type { App } from '../app/app.js';
import type { Config } from '../config.js';
import { sesEnforcementStatus, sesQuota } from '../metrics.js';
import { readAccountState, type AccountState } from './account-state.js';
import { effectiveSendRate, reservedMessages } from './figures.js';

const STATUSES = ['HEALTHY', 'PROBATION', 'SHUTDOWN', 'UNKNOWN'];

/** Sets `reverify_ses_quota{kind}` and `reverify_ses_enforcement_status{status}` from an account state. */
export function publishAccountMetrics(config: Pick<Config, 'SES_MAX_SEND_RATE' | 'SES_QUOTA_RESERVE'>, state: AccountState): void {
  const figures = state.figures;
  sesQuota.reset();
  sesQuota.set({ kind: 'send_rate' }, effectiveSendRate(config.SES_MAX_SEND_RATE, figures));
  if (figures) {
    const unlimited = !Number.isFinite(figures.max24HourSend);
    sesQuota.set({ kind: 'max_send_rate' }, figures.maxSendRate);
    sesQuota.set({ kind: 'max_24_hour_send' }, unlimited ? -1 : figures.max24HourSend);
    sesQuota.set({ kind: 'sent_last_24_hours' }, figures.sentLast24Hours);
    sesQuota.set({ kind: 'reserve' }, reservedMessages(config.SES_QUOTA_RESERVE, figures.max24HourSend));
  }
  const current = figures?.enforcementStatus ?? 'UNKNOWN';
  sesEnforcementStatus.reset();
  for (const status of new Set([...STATUSES, current])) sesEnforcementStatus.set({ status }, status === current ? 1 : 0);
}

const readings = new WeakMap<App, { at: number; done: Promise<void> }>();

/**
 * Refreshes the account gauges from the database at scrape time (the server
 * process does not run the check itself), at most every `intervalMs`: scrapes
 * in between share the last reading, so /metrics cannot be used to load the database.
 */
export function refreshAccountMetrics(app: App, intervalMs = 5_000): Promise<void> {
  const last = readings.get(app);
  if (last && Date.now() - last.at < intervalMs) return last.done;
  const done = readAccountState(app.db, app.clock()).then(
    (state) => publishAccountMetrics(app.config, state),
    (error: unknown) => app.log.warn({ err: error }, 'could not read the SES account state for /metrics'),
  );
  readings.set(app, { at: Date.now(), done });
  return done;
}
