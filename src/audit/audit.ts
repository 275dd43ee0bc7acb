import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';

export interface AuditEntry {
  /** Who acted: ses-webhook, sweep, campaign, verify, cli. */
  actor: string;
  /** What happened, e.g. email.unverified, account.expired, email.verified. */
  action: string;
  userId?: string | number | null;
  emailId?: string | number | null;
  reason?: string | null;
  /** Evidence support needs later: the SES event, the sweep run, the token id. Never a secret. */
  details?: Record<string, unknown>;
  occurredAt?: Date;
}

/**
 * Writes audit rows in the caller's transaction, so an effect and the record
 * of why it happened commit together or not at all.
 */
export async function recordAudit(db: Kysely<Database>, entries: AuditEntry | AuditEntry[]): Promise<void> {
  const rows = (Array.isArray(entries) ? entries : [entries]).map((entry) => ({
    actor: entry.actor,
    action: entry.action,
    user_id: entry.userId ?? null,
    email_id: entry.emailId ?? null,
    reason: entry.reason ?? null,
    details: JSON.stringify(entry.details ?? {}),
    ...(entry.occurredAt ? { occurred_at: entry.occurredAt } : {}),
  }));
  if (rows.length === 0) return;
  await db.insertInto('audit_log').values(rows).execute();
}
