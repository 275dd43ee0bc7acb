import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../../app/app.js';
import { getCampaignSummary, listCampaignSummaries } from '../../campaigns/summary.js';
import { basicAuthGuard } from '../admin/basic-auth.js';
import { registerBoard } from '../admin/board.js';
import { renderCampaignsPage } from '../admin/campaigns-page.js';

/** Thrown when the admin area would be served without a password. */
export class AdminPasswordMissingError extends Error {
  constructor() {
    super(
      'reverify cannot start the dashboard: ADMIN_PASSWORD is not set. Set ADMIN_PASSWORD (and ADMIN_USER, default "admin") ' +
        'so /admin is behind HTTP basic auth, or start the server with --no-dashboard.',
    );
    this.name = 'AdminPasswordMissingError';
  }
}

/** True for any path under /admin, however the client spelled it. */
function isAdminPath(request: FastifyRequest): boolean {
  const matched = request.routeOptions.url;
  if (matched !== undefined && (matched === '/admin' || matched.startsWith('/admin/'))) return true;
  let path = request.url.split('?')[0] ?? '';
  try {
    path = decodeURIComponent(path);
  } catch {
    // A malformed escape is judged on the raw path.
  }
  path = path.replace(/\/{2,}/g, '/').toLowerCase();
  return path === '/admin' || path.startsWith('/admin/');
}

/**
 * The admin area: Bull Board at /admin/queues, the campaigns page at
 * /admin/campaigns and its JSON at /admin/api/campaigns[/:id]. One root-level
 * hook guards every /admin path, including the board's assets, its API and
 * paths that match no route.
 */
export async function adminRoutes(server: FastifyInstance, app: App): Promise<void> {
  const password = app.config.ADMIN_PASSWORD;
  if (password === undefined) throw new AdminPasswordMissingError();
  const guard = basicAuthGuard({ user: app.config.ADMIN_USER, password });
  server.addHook('onRequest', async (request, reply) => {
    if (isAdminPath(request)) await guard(request, reply);
  });

  await registerBoard(server, app, { readOnly: app.config.ADMIN_READ_ONLY });

  server.get('/admin', async (_request, reply) => reply.redirect('/admin/campaigns'));

  server.get('/admin/campaigns', async (_request, reply) => {
    const html = renderCampaignsPage(await listCampaignSummaries(app.db));
    return reply
      .type('text/html; charset=utf-8')
      .headers({
        'Cache-Control': 'no-store',
        // The page has no scripts and loads nothing: say so, so injected markup could do nothing either.
        'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        'X-Content-Type-Options': 'nosniff',
      })
      .send(html);
  });

  server.get('/admin/api/campaigns', async () => ({ campaigns: await listCampaignSummaries(app.db) }));

  server.get<{ Params: { id: string } }>('/admin/api/campaigns/:id', async (request, reply) => {
    const { id } = request.params;
    if (!/^\d{1,18}$/.test(id)) {
      return reply.code(400).send({ error: `campaign id must be a number, got "${id}"` });
    }
    const summary = await getCampaignSummary(app.db, id);
    if (!summary) return reply.code(404).send({ error: `no campaign with id ${id}` });
    return summary;
  });
}
