import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * One structured logger for the whole process: JSON lines by default (what log
 * shippers want), human-readable when stdout is a terminal. Secrets are removed
 * by path so a careless `log.info({ config })` cannot leak them.
 */
export function createLogger(options: { level?: string; name?: string; pretty?: boolean } = {}): Logger {
  const pretty = (options.pretty ?? (process.stdout.isTTY === true && process.env.CI === undefined)) && prettyPrinterInstalled();
  return pino({
    name: options.name ?? 'reverify',
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: {
      paths: [
        'password',
        '*.password',
        'token',
        '*.token',
        'config.ADMIN_PASSWORD',
        'config.DATABASE_URL',
        'config.REDIS_URL',
        'config.QUEUE_DATABASE_URL',
        'headers.authorization',
        'req.headers.authorization',
      ],
      censor: '[redacted]',
    },
    transport: pretty ? { target: 'pino-pretty', options: { colorize: true, destination: 2 } } : undefined,
  }, pretty ? undefined : pino.destination(2));
}

/** pino-pretty is a devDependency: the production image (no dev packages) logs JSON even on a terminal. */
function prettyPrinterInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/** A child logger that tags every line of a job with its queue, name and id. */
export function jobLogger(log: Logger, job: { queueName: string; name: string; id?: string | undefined }): Logger {
  return log.child({ queue: job.queueName, job: job.name, jobId: job.id });
}
