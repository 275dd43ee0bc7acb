import path from 'node:path';
import { startDevStack, type DevInfo } from '../../dev/stack.js';
import { intFlag, parseFlags, printResult, type Command } from './command.js';
import { untilShutdownSignal } from './lifecycle.js';

export const devCommand: Command = {
  name: 'dev',
  summary: 'everything on this machine: embedded PostgreSQL, local SES, demo data, dashboard',
  help: `
Usage: reverify dev [--data-dir DIR] [--users N] [--per-day N] [--json]

Runs the whole of reverify on this machine with nothing installed beyond
"npm ci": an embedded PostgreSQL (data in DIR/pg, kept across runs), the
queues on a private redis-server from the PATH (falling back to a Redis on
127.0.0.1:6379), a local SES whose inbox page shows every message sent, an
SES event simulator that answers mail to bounce@, complaint@, ooto@ and
suppressionlist@simulator.amazonses.com with signed SNS notifications to the
real webhook, the worker and the server. The first run seeds N users
(default 3000, pypi-2018 profile) plus one unverified role holder per
simulator address, and creates a demo campaign that ticks every 5 seconds
with a daily budget of --per-day (default 200000).

  --data-dir DIR   where the dev services keep their files
                   (default $REVERIFY_DEV_DIR or .reverify/dev)

It prints the URLs of the dashboard, the campaigns page and the SES inbox,
and the admin password (generated unless ADMIN_PASSWORD is set). Any
configuration variable set in the environment overrides the dev default
(DATABASE_URL or REDIS_URL replace the embedded services). Ctrl-C stops
everything. --json prints those details as one JSON object once ready.`,
  async run(argv) {
    const { values } = parseFlags('dev', argv, {
      'data-dir': { type: 'string' },
      users: { type: 'string' },
      'per-day': { type: 'string' },
    });
    const dataDir = path.resolve(values['data-dir'] ?? process.env.REVERIFY_DEV_DIR ?? path.join('.reverify', 'dev'));
    const users = intFlag('users', values.users, { min: 0 }) ?? 3000;
    const perDay = intFlag('per-day', values['per-day'], { min: 1 }) ?? 200_000;
    if (!values.json) process.stdout.write(`Starting reverify dev in ${dataDir} (the first run takes a little longer)…\n`);
    const stack = await startDevStack({ dataDir, users, perDay, env: process.env });
    printResult(values.json, stack.info, () => banner(stack.info));
    await untilShutdownSignal(stack.app.log, async () => {
      if (!values.json) process.stdout.write('\nStopping reverify dev…\n');
      await stack.stop();
    });
    return 0;
  },
};

function banner(info: DevInfo): string {
  return [
    '',
    'reverify dev is running.',
    '',
    `  Dashboard (Bull Board)  ${info.dashboardUrl}`,
    `  Campaigns page          ${info.campaignsUrl}`,
    `  SES inbox               ${info.inboxUrl}`,
    '',
    `  Log in as "${info.adminUser}" with password: ${info.adminPassword}${info.passwordGenerated ? '   (generated for this run; set ADMIN_PASSWORD to choose one)' : ''}`,
    '',
    `  Database   ${info.databaseUrl}`,
    `  Queues     ${info.redis}`,
    `  Demo       ${info.users} users; campaign #${info.demoCampaignId} mails the unverified role holders every 5 s,`,
    '             and the SES simulator answers bounce@, complaint@, ooto@ and suppressionlist@simulator.amazonses.com.',
    '',
    'Press Ctrl-C to stop.',
    '',
  ].join('\n');
}
