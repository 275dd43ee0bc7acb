import { sql, type RawBuilder } from 'kysely';

/**
 * The cooldown across campaigns: a person mailed by any other campaign within
 * the campaign's cooldown (CAMPAIGN_COOLDOWN_DAYS when it was created, kept
 * in campaigns.cooldown_days; NULL when created with --ignore-cooldown) is
 * left out of it, as `recently_mailed`. "Mailed" is a message SES took
 * (sent_at), or may have taken: a row being sent or waiting for SES's events
 * (sending, unconfirmed), counted from its claim. Applied by the segment walk
 * (./segment.ts) and again by every claim (./recipient-facts.ts).
 */

/** Which cooldown to apply: the days (null: none) and the moment it counts back from. */
export interface CooldownRule {
  /** Undefined: the campaign's own cooldown_days. */
  readonly days?: number | null;
  /** Undefined: the statement's now(). */
  readonly now?: Date;
  /** Only people after this user id are asked about (a keyset walk's cursor): bounds the probe's index range. */
  readonly afterUserId?: string | null;
}

/**
 * True when the person `userId` was mailed by a campaign other than
 * `campaignId` within `days` before `now`. The partial index
 * campaign_recipients_mailed_idx (migration 0009) answers it from a person's
 * one or two index entries: its predicate is repeated here word for word.
 */
export function mailedWithinCooldown(parts: {
  userId: RawBuilder<unknown>;
  campaignId: RawBuilder<unknown>;
  days: RawBuilder<unknown>;
  now: RawBuilder<unknown>;
  afterUserId?: string | null;
}): RawBuilder<boolean> {
  const after = parts.afterUserId === undefined || parts.afterUserId === null ? sql`` : sql` AND m.user_id > ${parts.afterUserId}::bigint`;
  return sql<boolean>`EXISTS (
    SELECT 1 FROM campaign_recipients m
    WHERE m.user_id = ${parts.userId}${after}
      AND (m.sent_at IS NOT NULL OR m.status IN ('sending', 'unconfirmed'))
      AND COALESCE(m.sent_at, m.sending_at) > ${parts.now} - make_interval(days => ${parts.days})
      AND m.campaign_id <> ${parts.campaignId})`;
}

/** The cooldown check for campaign `campaignId` (a literal id) under `rule`, on the person `userId`. */
export function campaignCooldownCheck(userId: RawBuilder<unknown>, campaignId: string, rule: CooldownRule = {}): RawBuilder<boolean> {
  const days = rule.days === undefined ? sql`(SELECT c.cooldown_days FROM campaigns c WHERE c.id = ${campaignId}::bigint)` : sql`${rule.days}::int`;
  const now = rule.now === undefined ? sql`now()` : sql`${rule.now}::timestamptz`;
  return mailedWithinCooldown({ userId, campaignId: sql`${campaignId}::bigint`, days, now, afterUserId: rule.afterUserId });
}
