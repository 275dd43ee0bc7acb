import type { FastifyInstance } from 'fastify';
import type { App } from '../../app/app.js';
import { sweepOverview } from '../../accounts/sweep-overview.js';
import { addressReport } from '../../addresses/address-report.js';
import { renderAddressPage } from '../admin/address-page.js';
import { renderSweepsPage } from '../admin/sweeps-page.js';

/** The console's support pages: address lookup (HTML, or JSON with format=json) and the sweeps. */
export async function adminSupportRoutes(server: FastifyInstance, app: App): Promise<void> {
  server.get<{ Querystring: { q?: string; format?: string } }>('/admin/addresses', async (request, reply) => {
    const q = (request.query.q ?? '').trim();
    const report = q === '' ? undefined : await addressReport(app.db, q);
    if (request.query.format === 'json') {
      if (!report) return reply.code(400).send({ error: 'say which address: /admin/addresses?q=someone@example.org&format=json' });
      return report;
    }
    return reply.type('text/html; charset=utf-8').send(renderAddressPage(q, report));
  });

  server.get('/admin/sweeps', async (_request, reply) => {
    const overview = await sweepOverview(app.db, app.config, app.clock());
    return reply.type('text/html; charset=utf-8').send(renderSweepsPage(overview));
  });
}
