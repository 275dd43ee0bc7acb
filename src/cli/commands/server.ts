import { createApp } from '../../app/app.js';
import { describeConfig, loadConfig } from '../../config.js';
import { AdminPasswordError } from '../../http/routes/admin.js';
import { startServer } from '../../http/start-server.js';
import { parseFlags, printResult, UsageError, type Command } from './command.js';
import { untilShutdownSignal } from './lifecycle.js';

export const serverCommand: Command = {
  name: 'server',
  summary: 'serve the SES webhook, verification links, health, metrics and the dashboard',
  help: `
Usage: reverify server [--no-dashboard] [--json]

Serves on PORT (default 3000):
  POST /webhooks/ses           SNS notifications from SES
  GET, POST /verify/:token     verification links
  GET /healthz, GET /readyz    alive; PostgreSQL and the queue store reachable (503 names which is not)
  GET /metrics                 Prometheus text
  /admin/queues                Bull Board (HTTP basic auth: ADMIN_USER, ADMIN_PASSWORD)
  /admin/campaigns             campaigns page; /admin/api/campaigns[/:id] as JSON

The dashboard needs ADMIN_PASSWORD; without it the server refuses to start
unless --no-dashboard is given. ADMIN_READ_ONLY=true makes the board read-only.
On SIGTERM or SIGINT it stops accepting connections and finishes requests in flight.
--json prints {"url", "port", "dashboard"} once it listens.`,
  async run(argv) {
    const { values } = parseFlags('server', argv, { 'no-dashboard': { type: 'boolean' } });
    const dashboard = values['no-dashboard'] !== true;
    const config = loadConfig(process.env, dashboard ? ['ADMIN_PASSWORD'] : []);
    const app = createApp(config);
    app.log.info({ config: describeConfig(config) }, 'starting server');
    const running = await startServer(app, { dashboard }).catch(async (error: unknown) => {
      await app.close();
      if (error instanceof AdminPasswordError) throw new UsageError(error.message);
      throw error;
    });
    app.log.info({ port: running.port, dashboard }, 'server listening');
    printResult(values.json, { url: running.url, port: running.port, dashboard }, () => `reverify listening on ${running.url} (dashboard ${dashboard ? 'on' : 'off'})`);
    await untilShutdownSignal(app.log, async () => {
      await running.close();
      await app.close();
    });
    return 0;
  },
};
