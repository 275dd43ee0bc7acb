import type { Command } from '../command.js';
import { migrateCommand } from './migrate.js';
import { seedCommand } from './seed.js';
import { workerCommand } from './worker.js';

/** Every `reverify` command, in the order `--help` lists them. */
export const commands: readonly Command[] = [
  migrateCommand,
  seedCommand,
  workerCommand,
];
