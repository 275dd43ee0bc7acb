import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/commands/command.js';
import { verificationCommand } from '../../src/cli/commands/verification.js';
import { useTestEnv } from '../helpers/env.js';
import { startLocalSes } from '../campaigns/helpers.js';
import { person } from './request-fixtures.js';
import { captureStdout } from '../helpers/stdout.js';

const env = useTestEnv();
let local: Awaited<ReturnType<typeof startLocalSes>>;
const saved = { ...process.env };

beforeAll(async () => {
  local = await startLocalSes();
  Object.assign(process.env, env.env({ SES_ENDPOINT: local.endpoint, LOG_LEVEL: 'silent' }));
});

afterAll(async () => {
  process.env = saved;
  await local.close();
});

/** Runs the command in this process, capturing stdout. */
async function run(...args: string[]): Promise<{ code: number; stdout: string }> {
  return captureStdout(() => verificationCommand.run(args));
}

describe('reverify verification request', () => {
  it('mails a user by id or by primary address as an operator request, then throttles, and says so in JSON', async () => {
    const someone = await person(env.db);
    const first = await run('request', '--user', someone.userId, '--json');
    expect(first.code).toBe(0);
    const result = JSON.parse(first.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({ userId: someone.userId, email: someone.email, outcome: 'sent', reason: null });
    const row = await env.db.selectFrom('verification_requests').selectAll().where('id', '=', String(result.id)).executeTakeFirstOrThrow();
    expect(row.requested_by).toBe('operator');
    expect((await local.emails()).filter((e) => e.destination.to.includes(someone.email))).toHaveLength(1);

    const again = await run('request', '--email', someone.email.toUpperCase(), '--json');
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'throttled', reason: 'one_per_10_minutes' });
  });

  it('refuses an operator request for an address that complained', async () => {
    const complained = await person(env.db, { unverifyReason: 'complaint', suppressed: 'complaint' });
    const result = await run('request', '--user', complained.userId, '--json');
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ outcome: 'not_eligible', reason: 'suppressed_complaint' });
  });

  it('says what to fix for bad input: no user, both or neither flag, an unknown user, an unknown or secondary address', async () => {
    await expect(run('request')).rejects.toThrow(UsageError);
    await expect(run('request', '--user', '1', '--email', 'a@b.example')).rejects.toThrow(/exactly one of --user ID and --email ADDRESS/);
    await expect(run('request', '--user', 'abc')).rejects.toThrow(/--user must be a user id/);
    await expect(run('request', '--user', '99999999')).rejects.toThrow(/no user has the id 99999999/);
    await expect(run('request', '--email', 'nobody@nowhere.example')).rejects.toThrow(/no account has the address nobody@nowhere.example/);
    const someone = await person(env.db, { noPrimary: true });
    await expect(run('request', '--email', someone.email)).rejects.toThrow(/is not the primary address/);
    await expect(run('send')).rejects.toThrow(/reverify verification request/);
  });
});
