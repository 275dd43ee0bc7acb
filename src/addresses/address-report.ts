import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { diagnosticOf } from './diagnostic.js';

/**
 * Everything reverify knows about one address, for support ("why did my
 * address stop getting mail?"): its user, its state (verified, why not,
 * suppressed, soft bounces) and its history in time order: SES events with
 * their types and diagnostic codes, the campaign messages it was sent, the
 * verification tokens issued and used, and the audit rows. `reverify address
 * show` prints it and /admin/addresses shows it. Every read goes through an
 * index led by the address, its email row, its user or its SES message ids.
 */

export interface AddressState {
  emailId: string;
  email: string;
  userId: string;
  username: string;
  userActive: boolean;
  userTemporary: boolean;
  userExpiredAt: string | null;
  isPrimary: boolean;
  verified: boolean;
  verifiedAt: string | null;
  unverifyReason: string | null;
  softBounces: number;
}

export interface HistoryEntry {
  /** ISO 8601 UTC; entries are sorted by it. */
  at: string;
  kind: 'ses_event' | 'campaign_message' | 'token_issued' | 'token_used' | 'audit';
  /** One line a person reads. */
  summary: string;
  details: Record<string, unknown>;
}

export interface AddressReport {
  /** The address asked about, lower-cased. */
  address: string;
  /** The address's row (null when no account has it: it may still be suppressed or in events). */
  state: AddressState | null;
  suppression: { reason: string; since: string; emailEventId: string | null } | null;
  history: HistoryEntry[];
}

const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

/** The report of `address` (matched case-insensitively). */
export async function addressReport(db: Kysely<Database>, address: string): Promise<AddressReport> {
  const lower = address.trim().toLowerCase();
  const row = await db
    .selectFrom('emails as e')
    .innerJoin('users as u', 'u.id', 'e.user_id')
    .select(['e.id', 'e.email', 'e.user_id', 'u.username', 'u.is_active', 'u.is_temporary', 'u.expired_at', 'e.is_primary', 'e.verified', 'e.verified_at', 'e.unverify_reason', 'e.transient_bounces'])
    .where((eb) => eb(eb.fn('lower', ['e.email']), '=', lower))
    .executeTakeFirst();
  const state: AddressState | null = row
    ? {
        emailId: row.id,
        email: row.email,
        userId: row.user_id,
        username: row.username,
        userActive: row.is_active,
        userTemporary: row.is_temporary,
        userExpiredAt: iso(row.expired_at),
        isPrimary: row.is_primary,
        verified: row.verified,
        verifiedAt: iso(row.verified_at),
        unverifyReason: row.unverify_reason,
        softBounces: row.transient_bounces,
      }
    : null;
  const suppressed = await db.selectFrom('suppressions').select(['reason', 'created_at', 'email_event_id']).where('email', '=', lower).executeTakeFirst();
  const suppression = suppressed ? { reason: suppressed.reason, since: suppressed.created_at.toISOString(), emailEventId: suppressed.email_event_id } : null;
  const messages = state ? await campaignMessages(db, state) : { entries: [], sesMessageIds: [] };
  const history = [
    ...messages.entries,
    ...(await sesEvents(db, lower, messages.sesMessageIds)),
    ...(state ? await tokens(db, state) : []),
    ...(state ? await auditRows(db, state) : []),
  ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  return { address: lower, state, suppression, history };
}

async function campaignMessages(db: Kysely<Database>, state: AddressState): Promise<{ entries: HistoryEntry[]; sesMessageIds: string[] }> {
  const rows = await db
    .selectFrom('campaign_recipients as cr')
    .innerJoin('campaigns as c', 'c.id', 'cr.campaign_id')
    .select(['cr.id', 'cr.campaign_id', 'c.name', 'cr.status', 'cr.reason', 'cr.ses_message_id', 'cr.created_at', 'cr.sent_at', 'cr.delivered_at', 'cr.bounced_at', 'cr.complained_at', 'cr.verified_at'])
    .where('cr.user_id', '=', state.userId)
    .where('cr.email_id', '=', state.emailId)
    .execute();
  const entries = rows.map((r) => ({
    at: (r.sent_at ?? r.created_at).toISOString(),
    kind: 'campaign_message' as const,
    summary: `campaign #${r.campaign_id} "${r.name}": ${r.status}${r.reason ? ` (${r.reason})` : ''}`,
    details: {
      campaignId: r.campaign_id,
      recipientId: r.id,
      status: r.status,
      reason: r.reason,
      sesMessageId: r.ses_message_id,
      sentAt: iso(r.sent_at),
      deliveredAt: iso(r.delivered_at),
      bouncedAt: iso(r.bounced_at),
      complainedAt: iso(r.complained_at),
      verifiedAt: iso(r.verified_at),
    },
  }));
  return { entries, sesMessageIds: rows.flatMap((r) => (r.ses_message_id ? [r.ses_message_id] : [])) };
}

async function sesEvents(db: Kysely<Database>, lower: string, sesMessageIds: readonly string[]): Promise<HistoryEntry[]> {
  const rows = await db
    .selectFrom('email_events as ev')
    .leftJoin('ses_recipient_events as sre', (join) => join.onRef('sre.email_event_id', '=', 'ev.id').on('sre.email', '=', lower))
    .select(['ev.id', 'ev.event_type', 'ev.sub_type', 'ev.ses_message_id', 'ev.outcome', 'ev.payload', 'ev.occurred_at', 'ev.received_at', 'ev.campaign_id', 'sre.kind', 'sre.outcome as address_outcome'])
    .where((eb) => {
      const linked = eb.exists(eb.selectFrom('ses_recipient_events as h').select('h.email_event_id').where('h.email', '=', lower).whereRef('h.email_event_id', '=', 'ev.id'));
      return sesMessageIds.length > 0 ? eb.or([linked, eb('ev.ses_message_id', 'in', [...sesMessageIds])]) : linked;
    })
    .execute();
  return rows.map((r) => {
    const diagnostic = diagnosticOf(r.payload, lower);
    const parts = [r.event_type, r.sub_type, diagnostic.code ? `"${diagnostic.code}"` : null, r.address_outcome ? `→ ${r.address_outcome}` : null];
    return {
      at: (r.occurred_at ?? r.received_at).toISOString(),
      kind: 'ses_event' as const,
      summary: parts.filter(Boolean).join(' '),
      details: {
        eventId: r.id,
        type: r.event_type,
        subType: r.sub_type,
        sesMessageId: r.ses_message_id,
        campaignId: r.campaign_id,
        outcome: r.outcome,
        addressKind: r.kind,
        addressOutcome: r.address_outcome,
        ...diagnostic,
        receivedAt: r.received_at.toISOString(),
      },
    };
  });
}

async function tokens(db: Kysely<Database>, state: AddressState): Promise<HistoryEntry[]> {
  const rows = await db
    .selectFrom('verification_tokens')
    .select(['id', 'purpose', 'campaign_recipient_id', 'created_at', 'expires_at', 'used_at'])
    .where('email_id', '=', state.emailId)
    .execute();
  return rows.flatMap((r) => {
    const details = { tokenId: r.id, purpose: r.purpose, recipientId: r.campaign_recipient_id, expiresAt: r.expires_at.toISOString(), usedAt: iso(r.used_at) };
    const issued: HistoryEntry = { at: r.created_at.toISOString(), kind: 'token_issued', summary: `verification token #${r.id} issued (${r.purpose})`, details };
    if (!r.used_at) return [issued];
    return [issued, { at: r.used_at.toISOString(), kind: 'token_used' as const, summary: `verification token #${r.id} used: address verified`, details }];
  });
}

async function auditRows(db: Kysely<Database>, state: AddressState): Promise<HistoryEntry[]> {
  const rows = await db
    .selectFrom('audit_log')
    .select(['id', 'occurred_at', 'actor', 'action', 'reason', 'details', 'email_id'])
    .where((eb) => eb.or([eb('email_id', '=', state.emailId), eb.and([eb('user_id', '=', state.userId), eb('email_id', 'is', null)])]))
    .orderBy('occurred_at')
    .limit(500)
    .execute();
  return rows.map((r) => ({
    at: r.occurred_at.toISOString(),
    kind: 'audit' as const,
    summary: `${r.action} by ${r.actor}${r.reason ? `: ${r.reason}` : ''}`,
    details: { auditId: r.id, actor: r.actor, action: r.action, reason: r.reason, about: r.email_id ? 'address' : 'user', ...(r.details as Record<string, unknown>) },
  }));
}
