import path from 'node:path';
import { exportLines } from '../../dev/env-file.js';
import { DEFAULT_SEND_RATE, devPackagesProblem } from '../../dev/dev-packages.js';
import type { DevInfo, DevStack } from '../../dev/stack.js';
import { intFlag, parseFlags, printResult, UsageError, type Command } from './command.js';
import { DEV_REPLY_HELP, runDevReply } from './dev-reply.js';
import { SAME_SIGNAL_MS, untilShutdownSignal } from './lifecycle.js';

/** SIGHUP too: PostgreSQL runs in its own process group, so a closed terminal must stop it through us. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export const devCommand: Command = {
  name: 'dev',
  summary: 'everything on this machine: embedded PostgreSQL, local SES, demo data, dashboard',
  help: `
Usage: reverify dev [--data-dir DIR] [--users N] [--per-day N] [--send-rate R] [--redis] [--json]
       reverify dev reply ADDRESS [--json]   (see "reverify dev reply --help")

Runs the whole of reverify on this machine with nothing installed beyond
"npm ci": an embedded PostgreSQL (data in DIR/pg, kept across runs) that
also holds the job queues (QUEUE_BACKEND=postgres, schema bullmq_reverify_dev),
a local SES whose inbox page shows every message sent, an SES event
simulator that answers mail to bounce@, complaint@, ooto@ and
suppressionlist@simulator.amazonses.com with signed SNS notifications to the
real webhook, the worker and the server. The first run seeds N users
(default 3000, pypi-2018 profile) plus one unverified role holder per
simulator address, and creates a demo campaign that ticks every 5 seconds;
later runs reuse the data and the campaign (it carries on where it stopped).

  --data-dir DIR   where the dev services keep their files
                   (default $REVERIFY_DEV_DIR or .reverify/dev)
  --users N        users to seed on the first run (default 3000)
  --per-day N      the demo campaign's daily budget when it is created (default 200000)
  --send-rate R    messages per second to the local SES, the demo's pace
                   (default $SES_MAX_SEND_RATE or ${DEFAULT_SEND_RATE}: the default demo takes 5-10 minutes)
  --redis          queues on Redis instead: a private redis-server from the
                   PATH, else a Redis on 127.0.0.1:6379 (also when REDIS_URL is set)

It prints the URLs of the dashboard, the campaigns page and the SES inbox,
the admin password (generated unless ADMIN_PASSWORD is set), and export
lines that point reverify commands at this stack; the same lines are in
DIR/env, so "source DIR/env && reverify campaign list" works in another
shell. Any configuration variable set in the environment overrides the dev
default (DATABASE_URL or SES_ENDPOINT replace the embedded services).
Ctrl-C stops everything. --json prints those details as one JSON object once ready.
${DEV_REPLY_HELP}`,
  async run(argv) {
    if (argv[0] === 'reply') return runDevReply(argv.slice(1));
    const { values } = parseFlags('dev', argv, {
      'data-dir': { type: 'string' },
      users: { type: 'string' },
      'per-day': { type: 'string' },
      'send-rate': { type: 'string' },
      redis: { type: 'boolean' },
    });
    const dataDir = path.resolve(values['data-dir'] ?? process.env.REVERIFY_DEV_DIR ?? path.join('.reverify', 'dev'));
    const users = intFlag('users', values.users, { min: 0 }) ?? 3000;
    const perDay = intFlag('per-day', values['per-day'], { min: 1 }) ?? 200_000;
    const sendRate = rateFlag(values['send-rate']);
    // Loaded only now: the stack needs development packages the production image leaves out.
    const problem = devPackagesProblem();
    if (problem) {
      process.stderr.write(`${problem}\n`);
      return 2;
    }
    const { startDevStack } = await import('../../dev/stack.js');
    if (!values.json) process.stdout.write(`Starting reverify dev in ${dataDir} (the first run takes a little longer)…\n`);
    const stack = await startUnlessInterrupted((signal) =>
      startDevStack({ dataDir, users, perDay, sendRate, redis: values.redis === true, env: process.env, signal }),
    );
    if (!stack) {
      process.stderr.write('reverify dev: interrupted while starting; everything it had started is stopped.\n');
      return 130;
    }
    printResult(values.json, stack.info, () => banner(stack.info));
    await untilShutdownSignal(
      stack.app.log,
      async () => {
        if (!values.json) process.stdout.write('\nStopping reverify dev…\n');
        await stack.stop();
      },
      STOP_SIGNALS,
    );
    return 0;
  },
};

function rateFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const rate = Number(value);
  if (value.trim() === '' || !Number.isFinite(rate) || rate <= 0) throw new UsageError(`--send-rate must be a number of messages per second above 0, got "${value}"`);
  return rate;
}

/**
 * Starts the stack with Ctrl-C handled from the first moment: the start is
 * aborted and what already runs is stopped (embedded PostgreSQL included).
 * A second Ctrl-C exits at once. Undefined when interrupted.
 */
async function startUnlessInterrupted(start: (signal: AbortSignal) => Promise<DevStack>): Promise<DevStack | undefined> {
  const controller = new AbortController();
  let abortedAt = 0;
  const onSignal = () => {
    if (!controller.signal.aborted) {
      abortedAt = Date.now();
      controller.abort();
    } else if (Date.now() - abortedAt >= SAME_SIGNAL_MS) process.exit(130);
  };
  for (const name of STOP_SIGNALS) process.on(name, onSignal);
  try {
    const stack = await start(controller.signal);
    if (!controller.signal.aborted) return stack;
    await stack.stop();
    return undefined;
  } catch (error) {
    if (controller.signal.aborted) return undefined;
    throw error;
  } finally {
    for (const name of STOP_SIGNALS) process.off(name, onSignal);
  }
}

function banner(info: DevInfo): string {
  const campaign = info.demoCampaignCreated ? 'created now' : 'from an earlier run, carried on';
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
    `  Queues     ${info.queues}`,
    `  Demo       ${info.users} users; campaign #${info.demoCampaignId} (${campaign}) mails the unverified role holders`,
    `             at ${info.sendRate}/s, and the SES simulator answers bounce@, complaint@, ooto@ and suppressionlist@simulator.amazonses.com.`,
    '',
    `To run reverify commands against this stack in another shell: source ${info.envFile}`,
    'or paste:',
    '',
    exportLines(info.exports),
    '',
    'Press Ctrl-C to stop.',
    '',
  ].join('\n');
}
