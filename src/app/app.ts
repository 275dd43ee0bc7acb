import type { Config } from '../config.js';
import { createDb, type Db } from '../db/connect.js';
import { createLogger, type Logger } from '../logger.js';
import { registerOperatorTemplates } from '../mail/render.js';
import { loadTemplateDir } from '../mail/template-dir.js';
import type { QueueBackend } from '../queue/backend.js';
import { createQueueBackend } from '../queue/create-backend.js';
import { Queues } from '../queue/queues.js';

/** A source of the current time; tests and `--now` replace it. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

/**
 * What a running reverify process holds: configuration, the database, the
 * queues and the logger. Commands, jobs and HTTP routes receive it; nothing
 * reaches for globals.
 */
export interface App {
  readonly config: Config;
  readonly db: Db;
  readonly log: Logger;
  /** Where the queues live (Redis or PostgreSQL); nothing else needs to know which. */
  readonly queueBackend: QueueBackend;
  readonly queues: Queues;
  readonly clock: Clock;
  close(): Promise<void>;
}

/** Connects everything `config` names. Close it with `app.close()`. */
export function createApp(
  config: Config,
  options: { log?: Logger; clock?: Clock; db?: Db; dbPoolSize?: number } = {},
): App {
  const log = options.log ?? createLogger({ level: config.LOG_LEVEL });
  // Before anything connects: a template that cannot be used stops the start with its file and line.
  if (config.TEMPLATES_DIR !== undefined) {
    const loaded = loadTemplateDir(config.TEMPLATES_DIR, config.PUBLIC_BASE_URL);
    registerOperatorTemplates(loaded);
    log.debug({ templatesDir: config.TEMPLATES_DIR, templates: Object.keys(loaded) }, 'operator templates loaded');
  }
  const db = options.db ?? createDb(config.DATABASE_URL, { max: options.dbPoolSize });
  const queueBackend = createQueueBackend(config, log);
  const queues = new Queues(queueBackend);
  let closed = false;
  return {
    config,
    db,
    log,
    queueBackend,
    queues,
    clock: options.clock ?? systemClock,
    async close() {
      if (closed) return;
      closed = true;
      await queues.close();
      await queueBackend.close();
      if (!options.db) await db.destroy();
    },
  };
}
