import type { InboundRepliesTable, VerificationRequestsTable } from './request-tables.js';
import type { SesAccountTable } from './ses-account-table.js';
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * The one Database interface: the site's account tables (names fixed by the
 * contract) and reverify's own tables. Keep it in step with migrations/.
 */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
/** bigint columns arrive from pg as strings; ids are passed back as strings or numbers. */
type Id = ColumnType<string, string | number | bigint, string | number | bigint>;
type GeneratedId = ColumnType<string, string | number | bigint | undefined, never>;
type Json = ColumnType<unknown, string, string>;

export type UnverifyReason = 'hard_bounce' | 'soft_bounce' | 'complaint' | 'manual';

export interface UsersTable {
  id: GeneratedId;
  username: string;
  is_temporary: Generated<boolean>;
  is_active: Generated<boolean>;
  created_at: Timestamp;
  expired_at: NullableTimestamp;
}

export interface EmailsTable {
  id: GeneratedId;
  user_id: Id;
  email: string;
  is_primary: Generated<boolean>;
  verified: Generated<boolean>;
  verified_at: NullableTimestamp;
  unverify_reason: UnverifyReason | null;
  transient_bounces: Generated<number>;
  created_at: Timestamp;
}

export interface RolesTable {
  id: GeneratedId;
  user_id: Id;
  project_name: string;
  role_name: 'Owner' | 'Maintainer';
}

export interface SessionsTable {
  id: GeneratedId;
  user_id: Id;
  created_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: NullableTimestamp;
}

export interface ApiTokensTable {
  id: GeneratedId;
  user_id: Id;
  name: string;
  created_at: Timestamp;
  revoked_at: NullableTimestamp;
}

export interface AccountNoticesTable {
  id: GeneratedId;
  user_id: Id;
  kind: string;
  created_at: Timestamp;
  dismissed_at: NullableTimestamp;
}

export type CampaignStatus = 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';

export interface CampaignsTable {
  id: GeneratedId;
  name: string;
  template: string;
  segment: string;
  per_day: number;
  schedule: string;
  starts_at: Timestamp;
  status: CampaignStatus;
  /** Why the campaign is paused or cancelled, in words an operator can act on. */
  status_reason: string | null;
  allow_external_links: Generated<boolean>;
  /** Size of the segment when the campaign was created. */
  eligible_at_create: Generated<number>;
  /** Keyset cursor of the planner: the last user id already written to the ledger. */
  plan_cursor: Id | null;
  planned_all: Generated<boolean>;
  /** CAMPAIGN_COOLDOWN_DAYS when it was created; null when created with --ignore-cooldown. */
  cooldown_days: ColumnType<number | null, number | null | undefined, number | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
  finished_at: NullableTimestamp;
}

export type RecipientStatus =
  | 'pending'
  | 'queued'
  | 'sending'
  /** Its process died around SendEmail; waiting for SES's events to say whether SES took it (SES_SEND_EVENTS). */
  | 'unconfirmed'
  | 'sent'
  | 'delivered'
  | 'bounced'
  | 'complained'
  | 'failed'
  | 'skipped';

export interface CampaignRecipientsTable {
  id: GeneratedId;
  campaign_id: Id;
  user_id: Id;
  email_id: Id;
  /** The address as it was when the row was planned. */
  email: string;
  status: RecipientStatus;
  /** Why a row was skipped or failed. */
  reason: string | null;
  /** The UTC day whose budget this send counts against, set when queued. */
  send_day: ColumnType<string | null, string | null | undefined, string | null>;
  attempts: Generated<number>;
  ses_message_id: string | null;
  queued_at: NullableTimestamp;
  /** Set just before SendEmail: a row left in `sending` may have been accepted by SES. */
  sending_at: NullableTimestamp;
  sent_at: NullableTimestamp;
  delivered_at: NullableTimestamp;
  bounced_at: NullableTimestamp;
  /** The bounce's "Type/SubType" as SES gave it (Permanent/General, Transient/MailboxFull, Permanent/OnAccountSuppressionList…). */
  bounce_type: ColumnType<string | null, string | null | undefined, string | null>;
  complained_at: NullableTimestamp;
  verified_at: NullableTimestamp;
  /** When the row began waiting for SES's events to settle an unknown outcome. */
  unconfirmed_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** The attempt whose outcome was given up on when the row went back to queued to be sent again. */
  resent_after_attempt: ColumnType<number | null, number | null | undefined, number | null>;
  /** That attempt's MessageId, when an SES event showed after the resend that SES had taken it. */
  late_ses_message_id: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type TokenPurpose = 'campaign' | 'user_request';

export interface VerificationTokensTable {
  id: GeneratedId;
  /** sha256 of the token; the token itself is never stored. */
  token_hash: string;
  user_id: Id;
  email_id: Id;
  /** The address being confirmed; the token confirms nothing else. */
  email: string;
  purpose: TokenPurpose;
  campaign_recipient_id: Id | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
}

export interface EmailEventsTable {
  id: GeneratedId;
  /** The SNS MessageId: the idempotency key of a notification. */
  sns_message_id: string;
  sns_type: string;
  topic_arn: string;
  /** Bounce, Complaint, Delivery, Send, Reject, DeliveryDelay, or whatever SES sent. */
  event_type: string;
  sub_type: string | null;
  ses_message_id: string | null;
  campaign_id: Id | null;
  campaign_recipient_id: Id | null;
  /** What the event did: applied, unknown_address, unknown_type, ignored... */
  outcome: string;
  payload: Json;
  occurred_at: NullableTimestamp;
  received_at: Timestamp;
}

export interface SuppressionsTable {
  id: GeneratedId;
  /** Lower-cased address. */
  email: string;
  /** recipient_request: the recipient pressed the stop link (treated like a complaint). */
  reason: 'hard_bounce' | 'soft_bounce' | 'complaint' | 'manual' | 'recipient_request';
  email_event_id: Id | null;
  created_at: Timestamp;
  /** Imported from SES's account-level suppression list: the reason SES gives. */
  ses_reason: ColumnType<'BOUNCE' | 'COMPLAINT' | null, 'BOUNCE' | 'COMPLAINT' | null | undefined, 'BOUNCE' | 'COMPLAINT' | null>;
  /** When SES last put the address on its list. */
  ses_listed_at: NullableTimestamp;
}

/** A stop link's token (migrations/0012): one per message, stored as its sha256; stop links do not expire. */
export interface StopTokensTable {
  id: GeneratedId;
  token_hash: string;
  user_id: Id;
  email_id: Id;
  /** The address the message went to. */
  email: string;
  purpose: 'campaign' | 'verification';
  campaign_recipient_id: Id | null;
  created_at: Timestamp;
  used_at: NullableTimestamp;
  used_channel: 'web' | 'one-click' | null;
}

export interface AuditLogTable {
  id: GeneratedId;
  occurred_at: Timestamp;
  /** Who acted: ses-webhook, sweep, campaign, verify, cli. */
  actor: string;
  action: string;
  user_id: Id | null;
  email_id: Id | null;
  reason: string | null;
  details: Json;
}

export type SweepKind = 'remind' | 'expire';

export interface SweepRunsTable {
  id: GeneratedId;
  kind: SweepKind;
  /** The instant the run compared against (now, or --now). */
  as_of: Timestamp;
  dry_run: boolean;
  started_at: Timestamp;
  finished_at: NullableTimestamp;
  outcome: 'running' | 'completed' | 'failed' | 'skipped_locked';
  processed: Generated<number>;
  sessions_revoked: Generated<number>;
  tokens_revoked: Generated<number>;
  /** Sessions and API tokens of already-expired accounts (opened after expiry) revoked by this run. */
  sessions_revoked_after_expiry: Generated<number>;
  tokens_revoked_after_expiry: Generated<number>;
  batches: Generated<number>;
  longest_batch_ms: Generated<number>;
  /** Last user id finished, so an interrupted run's progress is visible. */
  cursor: Id | null;
  error: string | null;
}

/** Per SES message and address: the address-changing events already applied (webhook state machine). */
export interface SesRecipientEventsTable {
  ses_message_id: string;
  /** Lower-cased address. */
  email: string;
  /** State machine event kind: hard_bounce, soft_bounce, undetermined_bounce, complaint, delivery. */
  kind: string;
  email_event_id: Id;
  /** What the event did to the address: applied, out_of_office, superseded, stale. */
  outcome: string;
  occurred_at: NullableTimestamp;
}


export interface Database {
  users: UsersTable;
  emails: EmailsTable;
  roles: RolesTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  account_notices: AccountNoticesTable;
  campaigns: CampaignsTable;
  campaign_recipients: CampaignRecipientsTable;
  verification_tokens: VerificationTokensTable;
  email_events: EmailEventsTable;
  suppressions: SuppressionsTable;
  audit_log: AuditLogTable;
  sweep_runs: SweepRunsTable;
  ses_recipient_events: SesRecipientEventsTable;
  ses_account: SesAccountTable;
  stop_tokens: StopTokensTable;
  verification_requests: VerificationRequestsTable;
  inbound_replies: InboundRepliesTable;
}

export type { InboundRepliesTable, VerificationRequestOutcome, VerificationRequestsTable } from './request-tables.js';
export type { SesAccountTable } from './ses-account-table.js';

export type User = Selectable<UsersTable>;
export type Email = Selectable<EmailsTable>;
export type Campaign = Selectable<CampaignsTable>;
export type NewCampaign = Insertable<CampaignsTable>;
export type CampaignUpdate = Updateable<CampaignsTable>;
export type CampaignRecipient = Selectable<CampaignRecipientsTable>;
export type EmailEvent = Selectable<EmailEventsTable>;
export type SweepRun = Selectable<SweepRunsTable>;
