import type { SendEmailCommand } from '@aws-sdk/client-sesv2';
import type { Kysely } from 'kysely';
import type { App } from '../../src/app/app.js';
import { createCampaign } from '../../src/campaigns/operations.js';
import { runCampaignTick } from '../../src/campaigns/tick.js';
import type { Database, UnverifyReason } from '../../src/db/database.js';
import { listStoredEmails, startLocalSes as startDevLocalSes, type StoredEmail } from '../../src/dev/local-ses.js';
import type { SesSender } from '../../src/mail/ses-client.js';
import { track } from '../helpers/resources.js';

/** One hand-made user of a test population. */
export interface PersonSpec {
  username: string;
  active?: boolean;
  temporary?: boolean;
  verified?: boolean;
  unverifyReason?: UnverifyReason | null;
  roles?: number;
  /** Put the address on the suppression list (with the given reason). */
  suppressed?: 'hard_bounce' | 'complaint' | 'manual';
  /** Give the user no primary address at all. */
  noPrimary?: boolean;
  /** Address case as stored (suppressions are matched lower-cased). */
  email?: string;
}

/** Inserts the people and returns their user ids by username. */
export async function insertPeople(db: Kysely<Database>, people: PersonSpec[]): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const person of people) {
    const user = await db
      .insertInto('users')
      .values({ username: person.username, is_active: person.active ?? true, is_temporary: person.temporary ?? false, created_at: new Date('2020-01-01T00:00:00Z') })
      .returning('id')
      .executeTakeFirstOrThrow();
    ids.set(person.username, user.id);
    const email = person.email ?? `${person.username}@example.com`;
    await db
      .insertInto('emails')
      .values({
        user_id: user.id,
        email,
        is_primary: !person.noPrimary,
        verified: person.verified ?? false,
        verified_at: person.verified ? new Date('2021-01-01T00:00:00Z') : null,
        unverify_reason: person.unverifyReason ?? null,
        created_at: new Date('2020-01-01T00:00:00Z'),
      })
      .execute();
    for (let i = 0; i < (person.roles ?? 1); i += 1) {
      await db.insertInto('roles').values({ user_id: user.id, project_name: `${person.username}-project-${i}`, role_name: i === 0 ? 'Owner' : 'Maintainer' }).execute();
    }
    if (person.suppressed) await db.insertInto('suppressions').values({ email: email.toLowerCase(), reason: person.suppressed }).execute();
  }
  return ids;
}

/** `n` people who are all in the segment: name-0 … name-(n-1). */
export function eligiblePeople(prefix: string, n: number): PersonSpec[] {
  return Array.from({ length: n }, (_, i) => ({ username: `${prefix}-${String(i).padStart(3, '0')}` }));
}

/**
 * A campaign for `people` new eligible people (`prefix`-000 …) and no one
 * else: everyone already in the test database is made ineligible first (their
 * addresses verified), so each test mails only its own people. With `tick`
 * its first tick has run: a ledger row per person, today's share queued and
 * its send jobs enqueued. Returns the ledger row ids in order (none before a
 * tick). Scheduled daily at midnight UTC, so the first tick's share is the
 * whole `perDay`, whatever the hour the test runs: an hourly schedule spreads
 * the day's budget over the ticks left today (at 00:20 UTC, 1/24 of it: a
 * test of 100 people found 42 queued).
 */
export async function campaignForNewPeople(
  app: App,
  prefix: string,
  people: number,
  options: { perDay?: number; tick?: boolean } = {},
): Promise<{ campaignId: string; rows: string[] }> {
  await app.db.updateTable('emails').set({ verified: true }).where('verified', '=', false).execute();
  await insertPeople(app.db, eligiblePeople(prefix, people));
  const { campaign } = await createCampaign(
    app,
    {
      name: prefix,
      template: 'reverify-email',
      segment: 'unverified-role-holders',
      perDay: options.perDay ?? 1000,
      schedule: '0 0 * * *',
      startsAt: app.clock(),
      allowExternalLinks: false,
    },
    { dryRun: false },
  );
  const campaignId = campaign!.id;
  if (options.tick) await runCampaignTick(app, campaignId);
  const rows = await app.db.selectFrom('campaign_recipients').select('id').where('campaign_id', '=', campaignId).orderBy('id').execute();
  return { campaignId, rows: rows.map((row) => row.id) };
}

type Behaviour = (to: string, call: number) => Error | undefined;

/** An SES stand-in: records each accepted message and fails on demand. */
export class FakeSes implements SesSender {
  readonly accepted: Array<{ to: string; messageId: string; subject: string; text: string; html: string; tags: Record<string, string>; at: number }> = [];
  readonly refused: Array<{ to: string; error: string }> = [];
  calls = 0;
  constructor(private behaviour: Behaviour = () => undefined) {}

  setBehaviour(behaviour: Behaviour): void {
    this.behaviour = behaviour;
  }

  async send(command: SendEmailCommand) {
    this.calls += 1;
    const input = command.input;
    const to = input.Destination?.ToAddresses?.[0] ?? '';
    const error = this.behaviour(to, this.calls);
    if (error) {
      this.refused.push({ to, error: error.name });
      throw error;
    }
    const messageId = `fake-${this.calls}-${Math.random().toString(36).slice(2)}`;
    this.accepted.push({
      to,
      messageId,
      subject: input.Content?.Simple?.Subject?.Data ?? '',
      text: input.Content?.Simple?.Body?.Text?.Data ?? '',
      html: input.Content?.Simple?.Body?.Html?.Data ?? '',
      tags: Object.fromEntries((input.EmailTags ?? []).map((tag) => [tag.Name ?? '', tag.Value ?? ''])),
      at: Date.now(),
    });
    return { MessageId: messageId };
  }
}

/** A local SES (aws-ses-v2-local) in this process on a free port, its store emptied; the file fails if it is left open. */
export async function startLocalSes(): Promise<{ endpoint: string; emails(): Promise<StoredEmail[]>; close(): Promise<void> }> {
  const ses = await startDevLocalSes({ preferredPort: 0 });
  let open = true;
  track('local SES server', () => open);
  await fetch(`${ses.endpoint}/clear-store`, { method: 'POST' });
  return {
    endpoint: ses.endpoint,
    emails: () => listStoredEmails(ses.endpoint),
    async close() {
      await ses.stop();
      open = false;
    },
  };
}

export { waitFor } from '../../src/dev/wait.js';

