import type { App } from '../../app/app.js';
import { CampaignNotFoundError, CampaignStateError } from '../../campaigns/campaigns.js';
import { JSON_NAMING, validateCampaignInput, type RawCampaignInput } from '../../campaigns/create-input.js';
import { previewNewCampaign } from '../../campaigns/draft-preview.js';
import { firstTickWarning } from '../../campaigns/first-tick.js';
import { ExternalLinksError } from '../../campaigns/message.js';
import { cancelCampaign, createCampaign, pauseCampaign, resumeCampaign, type CampaignPreview } from '../../campaigns/operations.js';
import { getCampaignSummary, type CampaignSummary } from '../../campaigns/summary.js';

/**
 * What the console's API and forms do to campaigns, as the CLI does it: the
 * same validation, domain operations and messages; the actor in the audit
 * rows is `web:<ADMIN_USER>`. Outcomes carry an HTTP status for the caller.
 */

export const CAMPAIGN_ACTIONS = ['pause', 'resume', 'cancel'] as const;
export type CampaignAction = (typeof CAMPAIGN_ACTIONS)[number];

/** The audit actor of a request made through the console or its API. */
export function webActor(app: App): string {
  return `web:${app.config.ADMIN_USER}`;
}

/** A field (or `body`) and what to fix in it. */
export interface InputProblem {
  field: string;
  message: string;
}

export type CreateOutcome =
  | {
      status: 200 | 201;
      body: { id: string | null; status: string | null; eligible: number; dryRun: boolean; warning?: string; preview?: CampaignPreview };
    }
  | { status: 400; body: { error: string; errors: InputProblem[] } };

export interface CreateRequest extends RawCampaignInput {
  dryRun?: unknown;
  ignoreCooldown?: unknown;
  allowExternalLinks?: unknown;
}

const CREATE_KEYS = new Set(['name', 'segment', 'perDay', 'schedule', 'template', 'startsAt', 'dryRun', 'ignoreCooldown', 'allowExternalLinks']);
const FLAGS = ['dryRun', 'ignoreCooldown', 'allowExternalLinks'] as const;

/** Creates a campaign (or, with dryRun, previews it) from an API body or form fields. */
export async function createFromRequest(app: App, body: unknown): Promise<CreateOutcome> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalid([{ field: 'body', message: 'the body must be a JSON object of the campaign\'s fields' }]);
  const request = body as CreateRequest & Record<string, unknown>;
  const unknown = Object.keys(request).filter((key) => !CREATE_KEYS.has(key));
  if (unknown.length > 0) return invalid([{ field: 'body', message: `unknown field ${unknown.map((k) => `"${k}"`).join(', ')}; the fields are ${[...CREATE_KEYS].join(', ')}` }]);
  const badFlag = FLAGS.find((flag) => request[flag] !== undefined && typeof request[flag] !== 'boolean');
  if (badFlag) return invalid([{ field: badFlag, message: `${badFlag} must be true or false` }]);
  const checked = validateCampaignInput(request, JSON_NAMING);
  if (!checked.ok) return invalid(checked.problems);
  const dryRun = request.dryRun === true;
  const startsAt = checked.input.startsAt ?? app.clock();
  const input = { ...checked.input, startsAt, allowExternalLinks: request.allowExternalLinks === true, ignoreCooldown: request.ignoreCooldown === true };
  try {
    const { campaign, eligible } = await createCampaign(app, input, { dryRun, actor: webActor(app) });
    if (!campaign) return { status: 200, body: { id: null, status: null, eligible, dryRun, preview: await previewNewCampaign(app, input) } };
    const warning = await firstTickWarning(app, { status: campaign.status, startsAt });
    return { status: 201, body: { id: campaign.id, status: campaign.status, eligible, dryRun, ...(warning ? { warning } : {}) } };
  } catch (error) {
    if (!(error instanceof ExternalLinksError)) throw error;
    return invalid([
      {
        field: 'template',
        message:
          `template "${error.template}" links outside PUBLIC_BASE_URL (${error.baseUrl}): ${error.links.join(', ')}\n` +
          'Campaign mail should link only to the site itself; set allowExternalLinks if these links are intended.',
      },
    ]);
  }
}

function invalid(problems: InputProblem[]): CreateOutcome {
  return { status: 400, body: { error: problems.map((p) => p.message).join('\n'), errors: problems } };
}

export type ActionOutcome = { status: 200; body: CampaignSummary & { warning?: string } } | { status: 404 | 409; body: { error: string } };

/** Pauses, resumes or cancels campaign `id` as `actor`; answers its summary, as `campaign pause --json` prints it. */
export async function runCampaignAction(app: App, id: string, action: CampaignAction): Promise<ActionOutcome> {
  const actor = webActor(app);
  try {
    if (action === 'pause') await pauseCampaign(app, id, `paused by ${actor}`, actor);
    if (action === 'resume') await resumeCampaign(app, id, actor);
    if (action === 'cancel') await cancelCampaign(app, id, `cancelled by ${actor}`, actor);
  } catch (error) {
    if (error instanceof CampaignNotFoundError) return { status: 404, body: { error: `no campaign with id ${id}` } };
    if (error instanceof CampaignStateError) return { status: 409, body: { error: error.message } };
    throw error;
  }
  const summary = await getCampaignSummary(app.db, id);
  if (!summary) return { status: 404, body: { error: `no campaign with id ${id}` } };
  const warning = await firstTickWarning(app, { status: summary.status, startsAt: new Date(summary.startsAt) });
  return { status: 200, body: warning ? { ...summary, warning } : summary };
}
