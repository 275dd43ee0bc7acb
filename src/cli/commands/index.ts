import type { Command } from './command.js';
import { addressCommand } from './address.js';
import { campaignCommand } from './campaign.js';
import { devCommand } from './dev.js';
import { emailsCommand } from './emails.js';
import { migrateCommand } from './migrate.js';
import { reconcileCommand } from './reconcile.js';
import { seedCommand } from './seed.js';
import { serverCommand } from './server.js';
import { startCommand } from './start.js';
import { suppressionsCommand } from './suppressions.js';
import { sweepCommand } from './sweep.js';
import { verificationCommand } from './verification.js';
import { workerCommand } from './worker.js';

/** Every `reverify` command, in the order `--help` lists them. */
export const commands: readonly Command[] = [
  migrateCommand,
  seedCommand,
  workerCommand,
  campaignCommand,
  reconcileCommand,
  serverCommand,
  startCommand,
  devCommand,
  sweepCommand,
  suppressionsCommand,
  addressCommand,
  emailsCommand,
  verificationCommand,
];
