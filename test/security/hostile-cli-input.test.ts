import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/cli/commands/command.js';
import { commands } from '../../src/cli/commands/index.js';
import { useTestEnv } from '../helpers/env.js';

/**
 * SQL only through parameters, and bad input answered cleanly: hostile
 * strings go through every flag of the commands that take text, and through
 * the segment and seed paths as names and addresses in the data. Afterwards
 * every table is intact; each command either did what it was asked with the
 * value stored verbatim, or refused with a usage error (exit 2) that names
 * what to fix — never a crash, never a stack trace.
 */

const env = useTestEnv();

// No NUL byte: it cannot reach a real command line (execve ends an argument
// at the first NUL and Node refuses to spawn with one), and PostgreSQL refuses
// it in text, so the data cannot hold one either. The webhook scenario of
// `npm run chaos` sends NULs where they can arrive: inside JSON.
const HOSTILE = [
  "'; DROP TABLE users; --",
  "Robert'); DROP TABLE campaigns;--",
  '" OR "1"="1',
  "\\'; SELECT pg_sleep(10); --",
  '1; DELETE FROM emails',
  '$1 $2 %s %n ${process.env}',
  'Ωmega 🚀 \u202Eevil\u202C 名前',
  'x'.repeat(20_000),
  "{{constructor.constructor('return process')()}}",
  '../../../../etc/passwd',
  '<script>alert(1)</script>',
];

const BIN = fileURLToPath(new URL('../../bin/reverify.mjs', import.meta.url));
const command = (name: string) => {
  const found = commands.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no command ${name}`);
  return found;
};

type Outcome = { kind: 'ok'; stdout: string } | { kind: 'usage'; message: string } | { kind: 'crash'; error: unknown };

/** Runs a command in this process as main.ts would; a UsageError is exit 2. */
async function run(argv: string[]): Promise<Outcome> {
  const [name, ...rest] = argv;
  let stdout = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  try {
    const code = await command(name!).run(rest);
    return code === 0 ? { kind: 'ok', stdout } : { kind: 'crash', error: new Error(`exit ${code}`) };
  } catch (error) {
    if (error instanceof UsageError) return { kind: 'usage', message: error.message };
    return { kind: 'crash', error };
  } finally {
    spy.mockRestore();
  }
}

const savedEnv = { ...process.env };
let tablesBefore: string[] = [];
let usersBefore = 0;

async function tables(): Promise<string[]> {
  const { rows } = await sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`.execute(env.db);
  return rows.map((row) => row.tablename);
}

async function countUsers(): Promise<number> {
  const row = await env.db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

beforeAll(async () => {
  Object.assign(process.env, env.env({ LOG_LEVEL: 'silent' }));
  // Hostile names and addresses in the data the segment and the sweeps read.
  for (const [i, value] of HOSTILE.entries()) {
    const clean = value;
    const user = await env.db.insertInto('users').values({ username: `${clean.slice(0, 200)}-${i}`, created_at: new Date() }).returning('id').executeTakeFirstOrThrow();
    await env.db.insertInto('emails').values({ user_id: user.id, email: `"${clean.slice(0, 60)}"-${i}@example.org`, is_primary: true, verified: false, created_at: new Date() }).execute();
    await env.db.insertInto('roles').values({ user_id: user.id, project_name: `${clean.slice(0, 100)}-${i}`, role_name: 'Owner' }).execute();
    await env.db.insertInto('users').values({ username: `temp ${clean.slice(0, 100)}-${i}`, is_temporary: true, created_at: new Date(Date.now() - 400 * 86_400_000) }).execute();
  }
  tablesBefore = await tables();
  usersBefore = await countUsers();
});

afterAll(() => {
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

function expectClean(outcome: Outcome, flag: string): void {
  if (outcome.kind === 'crash') {
    throw new Error(`${flag}: the command failed with an error instead of a usage message: ${String(outcome.error)}`);
  }
  if (outcome.kind === 'usage') {
    expect(outcome.message, flag).toMatch(new RegExp(`${flag.replace(/^--/, '')}|must|unknown|needs|required`, 'i'));
    expect(outcome.message, flag).not.toMatch(/\n\s+at /);
  }
}

describe('hostile values through every CLI flag', () => {
  it('campaign create --name stores the name verbatim or refuses it cleanly', async () => {
    for (const value of HOSTILE) {
      const outcome = await run(['campaign', 'create', '--name', value, '--segment', 'unverified-role-holders', '--per-day', '10', '--schedule', '0 0 1 1 *', '--json']);
      expectClean(outcome, '--name');
      if (outcome.kind === 'ok') {
        const { id } = JSON.parse(outcome.stdout) as { id: string };
        const stored = await env.db.selectFrom('campaigns').select('name').where('id', '=', String(id)).executeTakeFirstOrThrow();
        expect(stored.name).toBe(value.trim());
      }
    }
  });

  it.each([
    ['--template', (v: string) => ['campaign', 'create', '--name', 'n', '--template', v, '--segment', 'unverified-role-holders', '--per-day', '10', '--schedule', '0 0 1 1 *']],
    ['--segment', (v: string) => ['campaign', 'create', '--name', 'n', '--segment', v, '--per-day', '10', '--schedule', '0 0 1 1 *']],
    ['--per-day', (v: string) => ['campaign', 'create', '--name', 'n', '--segment', 'unverified-role-holders', '--per-day', v, '--schedule', '0 0 1 1 *']],
    ['--schedule', (v: string) => ['campaign', 'create', '--name', 'n', '--segment', 'unverified-role-holders', '--per-day', '10', '--schedule', v]],
    ['--starts-at', (v: string) => ['campaign', 'create', '--name', 'n', '--segment', 'unverified-role-holders', '--per-day', '10', '--schedule', '0 0 1 1 *', '--starts-at', v]],
    ['campaign', (v: string) => ['campaign', 'show', v]],
    ['campaign', (v: string) => ['campaign', 'pause', v]],
    ['campaign', (v: string) => ['campaign', 'cancel', v]],
    ['--profile', (v: string) => ['seed', '--users', '1', '--profile', v]],
    ['--users', (v: string) => ['seed', '--users', v]],
    ['--seed', (v: string) => ['seed', '--users', '1', '--seed', v]],
    ['--temp-accounts', (v: string) => ['seed', '--users', '1', '--temp-accounts', v]],
    ['--now', (v: string) => ['seed', '--users', '1', '--now', v]],
    ['--now', (v: string) => ['sweep', 'expire', '--now', v]],
    ['--now', (v: string) => ['sweep', 'remind', '--dry-run', '--now', v]],
    ['sweep', (v: string) => ['sweep', v]],
  ] as const)('%s refuses every hostile value with a usage error', async (flag, argv) => {
    for (const value of HOSTILE) {
      const outcome = await run([...argv(value)]);
      expectClean(outcome, flag);
      expect(outcome.kind, `${flag} ${JSON.stringify(value.slice(0, 40))}`).toBe('usage');
    }
  });

  it('leaves every table in place and no user added or removed by a refused command', async () => {
    expect(await tables()).toEqual(tablesBefore);
    expect(await countUsers()).toBe(usersBefore);
  });
});

describe('hostile names and addresses in the data', () => {
  it('are counted by the segment, planned, previewed with escaping, and swept, with every table intact', async () => {
    const created = await run(['campaign', 'create', '--name', 'hostile data', '--segment', 'unverified-role-holders', '--per-day', '100', '--schedule', '0 0 1 1 *', '--json']);
    expect(created.kind).toBe('ok');
    const { id, eligible } = JSON.parse(created.kind === 'ok' ? created.stdout : '{}') as { id: string; eligible: number };
    expect(eligible).toBe(HOSTILE.length);
    const preview = await run(['campaign', 'preview', String(id), '--json']);
    expect(preview.kind).toBe('ok');
    const message = (JSON.parse(preview.kind === 'ok' ? preview.stdout : '{}') as { message: { html: string } }).message;
    expect(message.html).not.toContain('<script>alert(1)</script>');
    const swept = await run(['sweep', 'expire', '--json']);
    expect(swept.kind).toBe('ok');
    expect((JSON.parse(swept.kind === 'ok' ? swept.stdout : '{}') as { expired: number }).expired).toBe(HOSTILE.length);
    expect(await tables()).toEqual(tablesBefore);
    expect(await countUsers()).toBe(usersBefore);
  });
});

describe('the real binary', () => {
  function spawnReverify(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env.env({ LOG_LEVEL: 'silent' }) }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('exits 2 with a message and no stack trace, nothing on stdout, for hostile flags', async () => {
    const results = await Promise.all([
      spawnReverify(['campaign', 'create', '--name', "'; DROP TABLE users; --", '--template', "'; DROP TABLE users; --", '--segment', 'unverified-role-holders', '--per-day', '1', '--schedule', '0 0 1 1 *', '--json']),
      spawnReverify(['sweep', 'expire', '--now', "2026-01-01'); DROP TABLE users; --", '--json']),
    ]);
    for (const result of results) {
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/--template|--now/);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    expect(await tables()).toEqual(tablesBefore);
  }, 30_000);
});
