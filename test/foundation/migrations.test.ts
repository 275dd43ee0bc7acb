import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import * as tokenChecksOnAddressOnly from '../../migrations/0008_token_checks_on_address_only.js';
import * as ledgerAddressKeyOnly from '../../migrations/0016_ledger_address_key_only.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createDb } from '../../src/db/connect.js';
import { useTestEnv } from '../helpers/env.js';

const env = useTestEnv();

async function columns(table: string) {
  const result = await sql<{ column_name: string; data_type: string; is_nullable: string; column_default: string | null }>`
    SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name = ${table} ORDER BY ordinal_position`.execute(env.db);
  return Object.fromEntries(result.rows.map((r) => [r.column_name, `${r.data_type}${r.is_nullable === 'NO' ? ' not null' : ''}${r.column_default ? ` = ${r.column_default}` : ''}`]));
}

async function newUser(name: string, extra: Record<string, unknown> = {}) {
  return env.db.insertInto('users').values({ username: name, ...extra }).returning('id').executeTakeFirstOrThrow();
}

describe('migrations', () => {
  it('create the account tables with the contract columns', async () => {
    expect(await columns('users')).toEqual({
      id: 'bigint not null',
      username: 'text not null',
      is_temporary: 'boolean not null = false',
      is_active: 'boolean not null = true',
      created_at: 'timestamp with time zone not null = now()',
      expired_at: 'timestamp with time zone',
    });
    expect(Object.keys(await columns('emails'))).toEqual([
      'id', 'user_id', 'email', 'is_primary', 'verified', 'verified_at', 'unverify_reason', 'transient_bounces', 'created_at',
    ]);
    expect((await columns('emails')).transient_bounces).toBe('integer not null = 0');
    expect(Object.keys(await columns('roles'))).toEqual(['id', 'user_id', 'project_name', 'role_name']);
    expect(Object.keys(await columns('sessions'))).toEqual(['id', 'user_id', 'created_at', 'expires_at', 'revoked_at']);
    expect(Object.keys(await columns('api_tokens'))).toEqual(['id', 'user_id', 'name', 'created_at', 'revoked_at']);
    expect(Object.keys(await columns('account_notices'))).toEqual(['id', 'user_id', 'kind', 'created_at', 'dismissed_at']);
    for (const table of ['campaigns', 'campaign_recipients', 'verification_tokens', 'email_events', 'suppressions', 'audit_log', 'sweep_runs']) {
      expect(Object.keys(await columns(table)).length, table).toBeGreaterThan(3);
    }
  });

  it('are idempotent and safe to run concurrently', async () => {
    const dbs = [createDb(env.databaseUrl, { max: 1 }), createDb(env.databaseUrl, { max: 1 })];
    try {
      const outcomes = await Promise.all(dbs.map((db) => migrateToLatest(db)));
      expect(outcomes.map((o) => o.applied)).toEqual([[], []]);
    } finally {
      await Promise.all(dbs.map((db) => db.destroy()));
    }
  });

  it('reject a second primary address, a duplicate address in another case and an unknown reason', async () => {
    const { id } = await newUser('constraints');
    await env.db.insertInto('emails').values({ user_id: id, email: 'Ada@Example.org', is_primary: true }).execute();
    await expect(env.db.insertInto('emails').values({ user_id: id, email: 'other@example.org', is_primary: true }).execute()).rejects.toThrow(
      /emails_one_primary_per_user/,
    );
    await expect(env.db.insertInto('emails').values({ user_id: id, email: 'ada@example.ORG' }).execute()).rejects.toThrow(/emails_email_lower_key/);
    await expect(
      env.db.insertInto('emails').values({ user_id: id, email: 'x@example.org', unverify_reason: 'bored' as never }).execute(),
    ).rejects.toThrow(/emails_unverify_reason_check/);
    // A second, non-primary address is fine.
    await env.db.insertInto('emails').values({ user_id: id, email: 'second@example.org' }).execute();
  });

  it('reject a second role on the same project, an unknown role and a second notice of a kind', async () => {
    const { id } = await newUser('roles');
    await env.db.insertInto('roles').values({ user_id: id, project_name: 'requests', role_name: 'Owner' }).execute();
    await expect(
      env.db.insertInto('roles').values({ user_id: id, project_name: 'requests', role_name: 'Maintainer' }).execute(),
    ).rejects.toThrow(/roles_user_project_key/);
    await expect(
      env.db.insertInto('roles').values({ user_id: id, project_name: 'flask', role_name: 'Admin' as never }).execute(),
    ).rejects.toThrow(/roles_role_name_check/);
    await env.db.insertInto('account_notices').values({ user_id: id, kind: 'temp_account_expiry' }).execute();
    await expect(env.db.insertInto('account_notices').values({ user_id: id, kind: 'temp_account_expiry' }).execute()).rejects.toThrow(
      /account_notices_user_kind_key/,
    );
  });

  it('reject a duplicate username and apply the column defaults', async () => {
    await newUser('dupe');
    await expect(newUser('dupe')).rejects.toThrow(/users_username_key/);
    const user = await env.db.selectFrom('users').selectAll().where('username', '=', 'dupe').executeTakeFirstOrThrow();
    expect(user).toMatchObject({ is_temporary: false, is_active: true, expired_at: null });
    expect(user.created_at).toBeInstanceOf(Date);
  });

  it('keep one ledger row per campaign and person, and answer “this person’s rows” from that key alone', async () => {
    const { id: userId } = await newUser('ledger-key');
    const email = await env.db.insertInto('emails').values({ user_id: userId, email: 'ledger-key@example.org', is_primary: true }).returning('id').executeTakeFirstOrThrow();
    const campaign = await env.db
      .insertInto('campaigns')
      .values({ name: 'ledger key', template: 'reverify-email', segment: 'unverified-role-holders', per_day: 10, schedule: '0 0 * * *', starts_at: new Date(), status: 'draft' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const row = { campaign_id: campaign.id, user_id: userId, email_id: email.id, email: 'ledger-key@example.org', status: 'pending' as const };
    await env.db.insertInto('campaign_recipients').values(row).execute();
    await expect(env.db.insertInto('campaign_recipients').values(row).execute()).rejects.toThrow(/campaign_recipients_user_campaign_key/);
    // The planner's insert finds the key as ON CONFLICT (campaign_id, user_id).
    await env.db.insertInto('campaign_recipients').values(row).onConflict((oc) => oc.columns(['campaign_id', 'user_id']).doNothing()).execute();
    // campaign_recipients_mailed_idx (0009) is partial, for the cooldown: rows SES took or may have taken.
    const indexes = await sql<{ indexdef: string }>`SELECT indexdef FROM pg_indexes WHERE tablename = 'campaign_recipients' AND indexdef LIKE '%(user_id%' AND indexname <> 'campaign_recipients_mailed_idx'`.execute(env.db);
    expect(indexes.rows.map((index) => index.indexdef)).toEqual([expect.stringMatching(/UNIQUE INDEX campaign_recipients_user_campaign_key .*\(user_id, campaign_id\)/)]);
  });
  it('tie a ledger row to its person through its address: it goes with its address or its user, and undoing 0016 restores the user key', async () => {
    const ledgerKeys = async () =>
      (
        await sql<{ conname: string }>`SELECT conname FROM pg_constraint WHERE conrelid = 'campaign_recipients'::regclass AND contype = 'f' ORDER BY conname`.execute(env.db)
      ).rows.map((row) => row.conname);
    const campaign = await env.db
      .insertInto('campaigns')
      .values({ name: 'ledger keys', template: 'reverify-email', segment: 'unverified-role-holders', per_day: 10, schedule: '0 0 * * *', starts_at: new Date(), status: 'draft' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const personWithRow = async (name: string) => {
      const { id: userId } = await newUser(name);
      const email = await env.db.insertInto('emails').values({ user_id: userId, email: `${name}@example.org`, is_primary: true }).returning('id').executeTakeFirstOrThrow();
      const row = await env.db
        .insertInto('campaign_recipients')
        .values({ campaign_id: campaign.id, user_id: userId, email_id: email.id, email: `${name}@example.org`, status: 'pending' })
        .returning('id')
        .executeTakeFirstOrThrow();
      return { userId, emailId: email.id, rowId: row.id };
    };
    const rowExists = async (id: string) => (await env.db.selectFrom('campaign_recipients').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;

    expect(await ledgerKeys()).toEqual(['campaign_recipients_campaign_id_fkey', 'campaign_recipients_email_id_fkey']);
    const byAddress = await personWithRow('ledger-address');
    await env.db.deleteFrom('emails').where('id', '=', byAddress.emailId).execute();
    expect(await rowExists(byAddress.rowId)).toBe(false);
    // The user goes: their addresses go, and their ledger rows (and the address text they hold) with them.
    const byUser = await personWithRow('ledger-user');
    await env.db.deleteFrom('users').where('id', '=', byUser.userId).execute();
    expect(await rowExists(byUser.rowId)).toBe(false);

    await ledgerAddressKeyOnly.down(env.db as never);
    expect(await ledgerKeys()).toEqual(['campaign_recipients_campaign_id_fkey', 'campaign_recipients_email_id_fkey', 'campaign_recipients_user_id_fkey']);
    await ledgerAddressKeyOnly.up(env.db as never);
  });

  it('tie a verification token to its address alone: it goes with its address or its user, and undoing 0008 restores the other keys', async () => {
    const tokenKeys = async () =>
      (
        await sql<{ conname: string }>`SELECT conname FROM pg_constraint WHERE conrelid = 'verification_tokens'::regclass AND contype = 'f' ORDER BY conname`.execute(env.db)
      ).rows.map((row) => row.conname);
    const personWithToken = async (name: string) => {
      const { id: userId } = await newUser(name);
      const email = await env.db.insertInto('emails').values({ user_id: userId, email: `${name}@example.org`, is_primary: true }).returning('id').executeTakeFirstOrThrow();
      const campaign = await env.db
        .insertInto('campaigns')
        .values({ name, template: 'reverify-email', segment: 'unverified-role-holders', per_day: 10, schedule: '0 0 * * *', starts_at: new Date(), status: 'draft' })
        .returning('id')
        .executeTakeFirstOrThrow();
      const row = await env.db
        .insertInto('campaign_recipients')
        .values({ campaign_id: campaign.id, user_id: userId, email_id: email.id, email: `${name}@example.org`, status: 'sent' })
        .returning('id')
        .executeTakeFirstOrThrow();
      const token = await env.db
        .insertInto('verification_tokens')
        .values({ token_hash: `hash-${name}`, user_id: userId, email_id: email.id, email: `${name}@example.org`, purpose: 'campaign', campaign_recipient_id: row.id, expires_at: new Date(Date.now() + 3_600_000) })
        .returning('id')
        .executeTakeFirstOrThrow();
      return { userId, emailId: email.id, campaignId: campaign.id, rowId: row.id, tokenId: token.id };
    };
    const tokenExists = async (id: string) => (await env.db.selectFrom('verification_tokens').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;

    expect(await tokenKeys()).toEqual(['verification_tokens_email_id_fkey']);

    // The address goes: its tokens go with it.
    const byAddress = await personWithToken('token-address');
    await env.db.deleteFrom('emails').where('id', '=', byAddress.emailId).execute();
    expect(await tokenExists(byAddress.tokenId)).toBe(false);

    // The user goes: their addresses go, and the tokens with them.
    const byUser = await personWithToken('token-user');
    await env.db.deleteFrom('users').where('id', '=', byUser.userId).execute();
    expect(await tokenExists(byUser.tokenId)).toBe(false);

    // The campaign goes with its ledger rows: the token stays, pointing at a row that is gone.
    const byCampaign = await personWithToken('token-campaign');
    await env.db.deleteFrom('campaigns').where('id', '=', byCampaign.campaignId).execute();
    expect(await env.db.selectFrom('verification_tokens').select('campaign_recipient_id').where('id', '=', byCampaign.tokenId).executeTakeFirstOrThrow()).toEqual({
      campaign_recipient_id: byCampaign.rowId,
    });

    // Undone, the keys validate again: the dangling link is cleared as ON DELETE SET NULL would have.
    await tokenChecksOnAddressOnly.down(env.db as never);
    expect(await tokenKeys()).toEqual([
      'verification_tokens_campaign_recipient_id_fkey',
      'verification_tokens_email_id_fkey',
      'verification_tokens_user_id_fkey',
    ]);
    expect(await env.db.selectFrom('verification_tokens').select('campaign_recipient_id').where('id', '=', byCampaign.tokenId).executeTakeFirstOrThrow()).toEqual({
      campaign_recipient_id: null,
    });
    await tokenChecksOnAddressOnly.up(env.db as never);
    expect(await tokenKeys()).toEqual(['verification_tokens_email_id_fkey']);
  });
});
