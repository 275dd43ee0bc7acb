import { UnsupportedPostgresVersionError } from 'bullmq';
import { ConfigError } from '../config.js';
import { QueueBackendError } from '../queue/backend.js';
import { UsageError } from './commands/command.js';
import { commands } from './commands/index.js';
import { packageVersion } from './version.js';

/** Entry point of the `reverify` binary: picks the command and maps errors to exit codes. */
async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(overview());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    const version = packageVersion();
    process.stdout.write(rest.includes('--json') ? `${JSON.stringify({ version })}\n` : `${version}\n`);
    return 0;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) {
    process.stderr.write(`reverify: unknown command "${name}"\n\n${overview()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help.trim()}\n`);
    return 0;
  }
  return command.run(rest);
}

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: reverify <command> [flags]   (every command takes --help and --json; reverify --version prints the version)',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
  ].join('\n');
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UnsupportedPostgresVersionError) {
      // A producer's queue met the old server before any prepare(): the same advice as QueueBackendError's.
      process.stderr.write(`reverify: QUEUE_BACKEND=postgres needs PostgreSQL 13 or newer for its queues; this server is older.\nUpgrade that server, point QUEUE_DATABASE_URL at a newer one, or use QUEUE_BACKEND=redis.\n`);
      process.exitCode = 2;
      return;
    }
    if (error instanceof ConfigError || error instanceof UsageError || error instanceof QueueBackendError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    const err = error instanceof Error ? error : new Error(String(error));
    process.stderr.write(`reverify: ${err.message}\n`);
    if (err.cause instanceof Error) process.stderr.write(`  caused by: ${err.cause.message}\n`);
    process.exitCode = 1;
  },
);
