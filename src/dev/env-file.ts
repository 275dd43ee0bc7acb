import { rename, writeFile } from 'node:fs/promises';

/**
 * What a shell needs so that `reverify` commands (campaign list, reconcile,
 * a second worker) talk to the running dev stack: its database, its queues,
 * its SES and its settings. Only the queue variables of the backend in use.
 */
const EXPORTED = [
  'DATABASE_URL',
  'QUEUE_BACKEND',
  'QUEUE_DATABASE_URL',
  'REDIS_URL',
  'QUEUE_PREFIX',
  'ADMIN_USER',
  'ADMIN_PASSWORD',
  'AWS_REGION',
  'SES_ENDPOINT',
  'SES_CONFIGURATION_SET',
  'MAIL_FROM',
  'PUBLIC_BASE_URL',
  'SNS_TOPIC_ARNS',
  'SNS_CERT_CACHE_DIR',
  'REPLY_DOMAIN',
] as const;

/** The variables to export, from the dev stack's effective environment. */
export function devExports(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const exports: Record<string, string> = {};
  const postgresQueues = env.QUEUE_BACKEND === 'postgres';
  for (const name of EXPORTED) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (name === 'REDIS_URL' && postgresQueues) continue;
    if (name === 'QUEUE_DATABASE_URL' && !postgresQueues) continue;
    exports[name] = value;
  }
  return exports;
}

/** A value in single quotes, safe for sh, bash and zsh whatever it holds. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `export NAME='value'` lines, one per variable. */
export function exportLines(exports: Readonly<Record<string, string>>): string {
  return Object.entries(exports)
    .map(([name, value]) => `export ${name}=${shellQuote(value)}`)
    .join('\n');
}

/**
 * Writes the export lines to `file`, readable by its owner only (it holds the
 * admin password), replacing any file of an earlier run in one step.
 */
export async function writeEnvFile(file: string, exports: Readonly<Record<string, string>>, startedAt: Date): Promise<void> {
  const text = [
    `# reverify dev, started ${startedAt.toISOString()}: run "source ${file}" to point reverify commands at it.`,
    '# Rewritten at every start (ports and the generated password change).',
    exportLines(exports),
    '',
  ].join('\n');
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode: 0o600 });
  await rename(temporary, file);
}
