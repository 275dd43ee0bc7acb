import type { Kysely } from 'kysely';
import type { Campaign, CampaignStatus, Database } from '../db/database.js';
import { canTransition, statesLeadingTo } from './state.js';

/** The campaign repository: rows of `campaigns` and their state transitions. */

export interface NewCampaignInput {
  name: string;
  template: string;
  segment: string;
  perDay: number;
  schedule: string;
  startsAt: Date;
  allowExternalLinks: boolean;
  eligibleAtCreate: number;
  /** CAMPAIGN_COOLDOWN_DAYS at creation; null when created with --ignore-cooldown. */
  cooldownDays: number | null;
}

/** An operation that does not fit the campaign's state; the message says what state it is in. */
export class CampaignStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CampaignStateError';
  }
}

/** No campaign has this id. */
export class CampaignNotFoundError extends Error {
  constructor(readonly campaignId: string) {
    super(`no campaign has id ${campaignId}; "reverify campaign list" shows the campaigns`);
    this.name = 'CampaignNotFoundError';
  }
}

/** Inserts a campaign as a draft. */
export async function insertCampaign(db: Kysely<Database>, input: NewCampaignInput, now: Date): Promise<Campaign> {
  return db
    .insertInto('campaigns')
    .values({
      name: input.name,
      template: input.template,
      segment: input.segment,
      per_day: input.perDay,
      schedule: input.schedule,
      starts_at: input.startsAt,
      status: 'draft',
      allow_external_links: input.allowExternalLinks,
      eligible_at_create: input.eligibleAtCreate,
      cooldown_days: input.cooldownDays,
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The campaign with `id`, or undefined. */
export async function findCampaign(db: Kysely<Database>, id: string): Promise<Campaign | undefined> {
  if (!/^\d{1,18}$/.test(id)) return undefined;
  return db.selectFrom('campaigns').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The campaign with `id`; throws CampaignNotFoundError. */
export async function getCampaign(db: Kysely<Database>, id: string): Promise<Campaign> {
  const campaign = await findCampaign(db, id);
  if (!campaign) throw new CampaignNotFoundError(id);
  return campaign;
}

/** Every campaign, newest first. */
export async function listCampaigns(db: Kysely<Database>): Promise<Campaign[]> {
  return db.selectFrom('campaigns').selectAll().orderBy('id', 'desc').execute();
}

/**
 * Moves campaign `id` to `to` if its current state allows it (compare-and-set,
 * so two operators or a worker racing an operator cannot both win). Returns the
 * updated campaign, or throws CampaignStateError naming the current state.
 */
export async function transitionCampaign(
  db: Kysely<Database>,
  id: string,
  to: CampaignStatus,
  options: { reason?: string | null; now: Date },
): Promise<Campaign> {
  const updated = await tryTransitionCampaign(db, id, to, options);
  if (updated) return updated;
  const current = await getCampaign(db, id);
  if (current.status === to) return current;
  throw new CampaignStateError(
    `campaign ${id} is ${current.status} and cannot become ${to} (allowed from: ${statesLeadingTo(to).join(', ') || 'nothing'})`,
  );
}

/** Like transitionCampaign, but returns undefined instead of throwing when the state does not allow it. */
export async function tryTransitionCampaign(
  db: Kysely<Database>,
  id: string,
  to: CampaignStatus,
  options: { reason?: string | null; now: Date; from?: readonly CampaignStatus[] },
): Promise<Campaign | undefined> {
  const from = (options.from ?? statesLeadingTo(to)).filter((state) => canTransition(state, to));
  if (from.length === 0) return undefined;
  const finished = to === 'completed' || to === 'cancelled';
  return db
    .updateTable('campaigns')
    .set({
      status: to,
      status_reason: options.reason ?? null,
      updated_at: options.now,
      ...(finished ? { finished_at: options.now } : {}),
    })
    .where('id', '=', id)
    .where('status', 'in', from)
    .returningAll()
    .executeTakeFirst();
}

/** Pauses every running or scheduled campaign (SES paused the account); returns their ids. */
export async function pauseAllCampaigns(db: Kysely<Database>, reason: string, now: Date): Promise<string[]> {
  const rows = await db
    .updateTable('campaigns')
    .set({ status: 'paused', status_reason: reason, updated_at: now })
    .where('status', 'in', ['running', 'scheduled'])
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}
