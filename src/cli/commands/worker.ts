import { createApp } from '../../app/app.js';
import { describeConfig, loadConfig } from '../../config.js';
import { startProcessing } from '../../app/processing.js';
import { parseFlags, type Command } from './command.js';
import { untilShutdownSignal } from './lifecycle.js';

export const workerCommand: Command = {
  name: 'worker',
  summary: 'run the job processors and register the schedules',
  help: `
Usage: reverify worker [--shutdown-timeout SECONDS]

Runs every queue's processor (campaign ticks, sends, sweeps, reconcile) and
registers their schedules. Add processes to scale out: the send rate limit is
shared through the queue store (Redis, or PostgreSQL with QUEUE_BACKEND=postgres).
On SIGTERM or SIGINT it stops taking jobs and lets
active ones finish for up to --shutdown-timeout seconds (default 30).`,
  async run(argv) {
    const { values } = parseFlags('worker', argv, { 'shutdown-timeout': { type: 'string' } });
    const timeoutSeconds = Number(values['shutdown-timeout'] ?? 30);
    const config = loadConfig(process.env, ['MAIL_FROM']);
    const app = createApp(config);
    app.log.info({ config: describeConfig(config) }, 'starting worker');
    const workers = await startProcessing(app);
    app.log.info({ queues: workers.workers.map((w) => w.name) }, 'worker ready');
    await untilShutdownSignal(app.log, async () => {
      await workers.close(timeoutSeconds * 1000);
      await app.close();
    });
    return 0;
  },
};
