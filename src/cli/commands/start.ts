import { createApp } from '../../app/app.js';
import { describeConfig, loadConfig } from '../../config.js';
import { AdminPasswordError } from '../../http/routes/admin.js';
import { startServer } from '../../http/start-server.js';
import { startProcessing } from '../../app/processing.js';
import { intFlag, parseFlags, printResult, UsageError, type Command } from './command.js';
import { untilShutdownSignal } from './lifecycle.js';

export const startCommand: Command = {
  name: 'start',
  summary: 'run the worker and the server in one process',
  help: `
Usage: reverify start [--no-dashboard] [--shutdown-timeout SECONDS] [--json]

Runs what "reverify worker" and "reverify server" run, in one process: every
queue's processor and schedules, and the HTTP endpoints on PORT. Needs
MAIL_FROM, and ADMIN_PASSWORD unless --no-dashboard is given. On SIGTERM or
SIGINT it stops accepting connections and jobs, and lets active jobs finish
for up to --shutdown-timeout seconds (default 30). --json prints
{"url", "port", "dashboard", "queues"} once it listens.`,
  async run(argv) {
    const { values } = parseFlags('start', argv, {
      'no-dashboard': { type: 'boolean' },
      'shutdown-timeout': { type: 'string' },
    });
    const dashboard = values['no-dashboard'] !== true;
    const timeoutSeconds = intFlagOrDefault(values['shutdown-timeout'], 30);
    const config = loadConfig(process.env, dashboard ? ['MAIL_FROM', 'ADMIN_PASSWORD'] : ['MAIL_FROM']);
    const app = createApp(config);
    app.log.info({ config: describeConfig(config) }, 'starting worker and server');
    const running = await startServer(app, { dashboard }).catch(async (error: unknown) => {
      await app.close();
      if (error instanceof AdminPasswordError) throw new UsageError(error.message);
      throw error;
    });
    const workers = await startProcessing(app);
    app.log.info({ port: running.port, queues: workers.workers.map((w) => w.name) }, 'worker and server ready');
    printResult(values.json, { url: running.url, port: running.port, dashboard, queues: workers.workers.map((w) => w.name) }, () => `reverify listening on ${running.url} (dashboard ${dashboard ? 'on' : 'off'})`);
    await untilShutdownSignal(app.log, async () => {
      await running.close();
      await workers.close(timeoutSeconds * 1000);
      await app.close();
    });
    return 0;
  },
};

function intFlagOrDefault(value: string | undefined, fallback: number): number {
  return intFlag('shutdown-timeout', value, { min: 0 }) ?? fallback;
}
