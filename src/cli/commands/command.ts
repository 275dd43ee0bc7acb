import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A `reverify` sub-command. `run` returns the process exit code. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Full --help text: usage line, flags, and what the command prints. */
  readonly help: string;
  run(argv: string[]): Promise<number>;
}

/** Bad input on the command line: the message says what to fix. Exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses flags strictly: an unknown flag or a missing value is a UsageError
 * naming the flag, never silently ignored.
 */
export function parseFlags<O extends Options>(
  command: string,
  argv: string[],
  options: O,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean' }, json: { type: 'boolean' } }, allowPositionals, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${message}\nRun "reverify ${command} --help" for the flags it takes.`);
  }
}

/** Parses an integer flag, or throws a UsageError that names the flag. */
export function intFlag(name: string, value: string | undefined, { min = 0 } = {}): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value.trim()) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}, got "${value}"`);
  }
  return Number(value);
}

/** Parses an ISO 8601 instant flag (with a time zone), or throws a UsageError. */
export function instantFlag(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(value.trim());
  const date = new Date(value);
  if (!hasZone || Number.isNaN(date.getTime())) {
    throw new UsageError(`--${name} must be an ISO 8601 instant with a time zone, such as 2026-01-31T03:00:00Z; got "${value}"`);
  }
  return date;
}

/** Prints a result: one JSON object on stdout with --json, human text otherwise. */
export function printResult(json: boolean | undefined, result: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(result)}\n` : `${text()}\n`);
}
