import type { FastifyInstance } from 'fastify';
import type { App } from '../../app/app.js';
import { CAMPAIGN_ACTIONS, createFromRequest, runCampaignAction, type CampaignAction } from '../admin/campaign-commands.js';

/**
 * The admin JSON API's operations: create (or preview with dryRun) and pause,
 * resume, cancel, answering what the CLI's --json prints. Reached only through
 * the admin guard: basic auth, and same-origin for every POST (scripts send
 * `Origin: <PUBLIC_BASE_URL's origin>`).
 */
export async function adminApiRoutes(server: FastifyInstance, app: App): Promise<void> {
  server.post('/admin/api/campaigns', async (request, reply) => {
    const outcome = await createFromRequest(app, request.body);
    return reply.code(outcome.status).send(outcome.body);
  });

  server.post<{ Params: { id: string; action: string } }>('/admin/api/campaigns/:id/:action', async (request, reply) => {
    const { id, action } = request.params;
    if (!(CAMPAIGN_ACTIONS as readonly string[]).includes(action)) {
      return reply.code(404).send({ error: `no action "${action}": POST /admin/api/campaigns/ID/${CAMPAIGN_ACTIONS.join('|')}` });
    }
    if (!/^\d{1,18}$/.test(id)) return reply.code(400).send({ error: `campaign id must be a number, got "${id}"` });
    const outcome = await runCampaignAction(app, id, action as CampaignAction);
    return reply.code(outcome.status).send(outcome.body);
  });
}
