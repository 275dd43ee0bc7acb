import { createHash } from 'node:crypto';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { App } from '../../app/app.js';
import { campaignActivity, campaignProgress } from '../../campaigns/activity.js';
import { findCampaign } from '../../campaigns/campaigns.js';
import { isCampaignFilter, pageOfCampaignSummaries } from '../../campaigns/summary-page.js';
import { getCampaignSummary } from '../../campaigns/summary.js';
import { CAMPAIGN_ACTIONS, createFromRequest, runCampaignAction, type CampaignAction } from '../admin/campaign-commands.js';
import { EMPTY_FORM, renderCampaignForm, type CampaignFormValues } from '../admin/campaign-form-page.js';
import { renderCampaignPage, renderCancelConfirmation } from '../admin/campaign-page.js';
import { renderCampaignsPage } from '../admin/campaigns-page.js';
import { CSRF_FIELD, csrfToken, isValidCsrfToken } from '../admin/csrf.js';
import { renderPage } from '../admin/layout.js';

/**
 * The console's campaign pages: the list, one campaign, the new-campaign
 * form with its preview, and the pause, resume and cancel buttons. Forms post
 * urlencoded bodies carrying the CSRF token, on top of the same-origin check
 * every admin POST passes first.
 */

const PER_PAGE = 20;
const ACTION_DONE: Record<CampaignAction | 'created', string> = { created: 'Created.', pause: 'Paused.', resume: 'Resumed.', cancel: 'Cancelled.' };

type FormBody = Record<string, string | string[] | undefined>;

function html(reply: FastifyReply, status: number, page: string) {
  return reply.code(status).type('text/html; charset=utf-8').send(page);
}

function errorPage(reply: FastifyReply, status: number, title: string, message: string) {
  const escaped = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return html(reply, status, renderPage({ title, section: 'campaigns' }, `<section class="card"><h2>${title}</h2><p class="error">${escaped}</p><p><a href="/admin/campaigns">All campaigns</a></p></section>`));
}

function field(body: FormBody, name: string): string {
  const value = body[name];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

function formValues(body: FormBody): CampaignFormValues {
  return {
    name: field(body, 'name'),
    segment: field(body, 'segment'),
    perDay: field(body, 'perDay'),
    schedule: field(body, 'schedule'),
    template: field(body, 'template'),
    startsAt: field(body, 'startsAt'),
    allowExternalLinks: field(body, 'allowExternalLinks') !== '',
    ignoreCooldown: field(body, 'ignoreCooldown') !== '',
  };
}

/** The form's times are UTC: a value typed without a zone gets "Z". */
function startsAtOf(value: string): string | undefined {
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(trimmed) ? `${trimmed}Z` : trimmed;
}

function fingerprint(values: CampaignFormValues): string {
  return createHash('sha256').update(JSON.stringify(values)).digest('base64url');
}

export async function adminCampaignRoutes(server: FastifyInstance, app: App): Promise<void> {
  const csrf = csrfToken(app.config.ADMIN_USER, app.config.ADMIN_PASSWORD ?? '');
  const validCsrf = (body: FormBody) => isValidCsrfToken(field(body, CSRF_FIELD), app.config.ADMIN_USER, app.config.ADMIN_PASSWORD ?? '');

  server.get<{ Querystring: { status?: string; page?: string } }>('/admin/campaigns', async (request, reply) => {
    const filter = request.query.status ?? 'all';
    if (!isCampaignFilter(filter)) return errorPage(reply, 400, 'Unknown filter', `status must be running, paused or finished; got "${filter}"`);
    const page = /^\d{1,6}$/.test(request.query.page ?? '1') ? Math.max(1, Number(request.query.page ?? '1')) : 1;
    const { summaries, total } = await pageOfCampaignSummaries(app.db, { filter, page, perPage: PER_PAGE });
    return html(reply, 200, renderCampaignsPage({ summaries, filter, page, perPage: PER_PAGE, total }));
  });

  server.get('/admin/campaigns/new', async (_request, reply) =>
    html(reply, 200, renderCampaignForm({ values: EMPTY_FORM, csrf, problems: [], previewed: '' })),
  );

  server.get<{ Params: { id: string }; Querystring: { done?: string } }>('/admin/campaigns/:id', async (request, reply) => {
    const campaign = await findCampaign(app.db, request.params.id);
    const summary = campaign && (await getCampaignSummary(app.db, campaign.id));
    if (!campaign || !summary) return errorPage(reply, 404, 'No such campaign', `no campaign with id ${request.params.id}`);
    const done = request.query.done;
    const notice = done && Object.hasOwn(ACTION_DONE, done) ? ACTION_DONE[done as CampaignAction | 'created'] : undefined;
    const [progress, activity] = [await campaignProgress(app.db, campaign, summary.counts, app.clock()), await campaignActivity(app.db, campaign.id)];
    return html(reply, 200, renderCampaignPage({ summary, progress, activity, csrf, config: app.config, ...(notice ? { notice } : {}) }));
  });

  server.get<{ Params: { id: string } }>('/admin/campaigns/:id/cancel', async (request, reply) => {
    const summary = await getCampaignSummary(app.db, request.params.id);
    if (!summary) return errorPage(reply, 404, 'No such campaign', `no campaign with id ${request.params.id}`);
    return html(reply, 200, renderCancelConfirmation(summary, csrf));
  });

  await server.register(async (forms) => {
    await forms.register(formbody);

    forms.post<{ Body: FormBody }>('/admin/campaigns/new', async (request, reply) => {
      const body = request.body ?? {};
      if (!validCsrf(body)) return errorPage(reply, 403, 'Refused', 'the form\'s CSRF token is missing or wrong: reload the form and try again');
      const values = formValues(body);
      const raw = { ...values, startsAt: startsAtOf(values.startsAt) };
      const current = fingerprint(values);
      const creating = field(body, 'intent') === 'create' && field(body, 'previewed') === current;
      const outcome = await createFromRequest(app, { ...raw, dryRun: !creating });
      if (outcome.status === 400) return html(reply, 400, renderCampaignForm({ values, csrf, problems: outcome.body.errors, previewed: '' }));
      if (outcome.body.id !== null) return reply.redirect(`/admin/campaigns/${outcome.body.id}?done=created`, 303);
      const notice = field(body, 'intent') === 'create' ? 'The values changed since the preview: check this preview, then create.' : undefined;
      const preview = outcome.body.preview;
      return html(reply, 200, renderCampaignForm({ values, csrf, problems: [], previewed: current, ...(preview ? { preview } : {}), ...(notice ? { notice } : {}) }));
    });

    forms.post<{ Params: { id: string; action: string }; Body: FormBody }>('/admin/campaigns/:id/:action', async (request, reply) => {
      const { id, action } = request.params;
      if (!(CAMPAIGN_ACTIONS as readonly string[]).includes(action)) return errorPage(reply, 404, 'No such action', `no action "${action}"`);
      if (!validCsrf(request.body ?? {})) return errorPage(reply, 403, 'Refused', 'the form\'s CSRF token is missing or wrong: reload the page and try again');
      const outcome = await runCampaignAction(app, id, action as CampaignAction);
      if (outcome.status !== 200) return errorPage(reply, outcome.status, `Could not ${action} campaign #${id}`, outcome.body.error);
      return reply.redirect(`/admin/campaigns/${encodeURIComponent(id)}?done=${action}`, 303);
    });
  });
}
