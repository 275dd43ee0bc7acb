import { createApp, type App } from '../../app/app.js';
import { CampaignNotFoundError, CampaignStateError, getCampaign } from '../../campaigns/campaigns.js';
import { describeList, describePreview, describeSummary } from './describe-campaign.js';
import { firstTickWarning } from '../../campaigns/first-tick.js';
import { ExternalLinksError } from '../../campaigns/message.js';
import { cancelCampaign, createCampaign, pauseCampaign, previewCampaign, resumeCampaign } from '../../campaigns/operations.js';
import { SEGMENTS } from '../../campaigns/eligibility/segment.js';
import { FLAG_NAMING, validateCampaignInput } from '../../campaigns/create-input.js';
import { getCampaignSummary, listCampaignSummaries } from '../../campaigns/summary.js';
import { loadConfig } from '../../config.js';
import { listTemplates, UnknownTemplateError } from '../../mail/render.js';
import { parseFlags, printResult, UsageError, type Command } from './command.js';

const ACTIONS = ['create', 'preview', 'show', 'list', 'pause', 'resume', 'cancel'] as const;
type Action = (typeof ACTIONS)[number];

export const campaignCommand: Command = {
  name: 'campaign',
  summary: 'create, preview, list, show, pause, resume or cancel re-verification campaigns',
  help: `
Usage: reverify campaign create --name NAME --segment unverified-role-holders --per-day N --schedule "CRON"
                                [--template reverify-email] [--starts-at ISO] [--dry-run] [--allow-external-links]
                                [--ignore-cooldown] [--json]
       reverify campaign preview ID [--json]
       reverify campaign show ID [--json]
       reverify campaign list [--json]
       reverify campaign pause|resume|cancel ID [--json]

create    registers a campaign and its schedule: the first tick runs at
          --starts-at (default now), then on --schedule (cron, UTC). Each tick
          queues its share of the day's budget: no UTC day sends more than
          --per-day. Refuses a template whose message links anywhere but
          PUBLIC_BASE_URL unless --allow-external-links. --dry-run counts who
          would be mailed and creates nothing. People another campaign
          mailed within CAMPAIGN_COOLDOWN_DAYS (30) are left out
          (recently_mailed) unless --ignore-cooldown.
preview   eligible count, who is excluded and why, how many days the budget
          needs, and one rendered message.
show      status (and why it is paused or cancelled) and the funnel: eligible,
          queued, sent, delivered, bounced, complained, failed, skipped, verified,
          and unconfirmed (sends whose outcome a crash left unknown, waiting
          for SES's events: SES_SEND_EVENTS).
pause     queued messages wait; resume sends them and ticks on.
cancel    ends it: unsent recipients are skipped (campaign_cancelled).

A campaign no worker picks up says so (on stderr, and as "warning" in
--json): at create when no worker reads this QUEUE_PREFIX on this
QUEUE_BACKEND, at show while its first tick is over a minute late.

--json prints one object:
  create   {"id", "status", "eligible", "dryRun", "warning"?}
  preview  {"eligible", "excluded": {reason: count}, "projectedDays", "projectedFinish", "message"}
  show, pause, resume, cancel
           {"id", "status", "reason", "counts": {"eligible", "queued", "sent", "delivered",
            "bounced", "complained", "failed", "skipped", "verified", "unconfirmed", ...}, ...}
  list     {"campaigns": [same as show]}

Templates: ${listTemplates().join(', ')}, and those in TEMPLATES_DIR (<name>.subject.hbs,
<name>.text.hbs, <name>.html.hbs). Segments: ${SEGMENTS.join(', ')}.`,
  async run(argv) {
    const [action, ...rest] = argv;
    if (!isAction(action)) {
      throw new UsageError(
        `${action === undefined ? 'say what to do' : `unknown action "${action}"`}: reverify campaign ${ACTIONS.join('|')} …\nRun "reverify campaign --help" for the flags each takes.`,
      );
    }
    if (action === 'create') return create(rest);
    const { values, positionals } = parseFlags(`campaign ${action}`, rest, {}, true);
    const json = values.json;
    if (action === 'list') {
      if (positionals.length > 0) throw new UsageError(`"campaign list" takes no argument, got "${positionals.join(' ')}"`);
      return withApp(async (app) => {
        const campaigns = await listCampaignSummaries(app.db);
        printResult(json, { campaigns }, () => describeList(campaigns));
      });
    }
    const id = campaignId(action, positionals);
    return withApp(async (app) => {
      if (action === 'preview') {
        const campaign = await getCampaign(app.db, id);
        const preview = await previewCampaign(app, id);
        printResult(json, preview, () => describePreview(preview, campaign.per_day));
        return;
      }
      if (action === 'pause') await pauseCampaign(app, id);
      if (action === 'resume') await resumeCampaign(app, id);
      if (action === 'cancel') await cancelCampaign(app, id);
      const summary = await getCampaignSummary(app.db, id);
      if (!summary) throw new CampaignNotFoundError(id);
      const warning = await firstTickWarning(app, { status: summary.status, startsAt: new Date(summary.startsAt) });
      printResult(json, warning ? { ...summary, warning } : summary, () => describeSummary(summary));
      warn(warning);
    });
  },
};

async function create(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('campaign create', argv, {
    name: { type: 'string' },
    template: { type: 'string', default: 'reverify-email' },
    segment: { type: 'string' },
    'per-day': { type: 'string' },
    schedule: { type: 'string' },
    'starts-at': { type: 'string' },
    'dry-run': { type: 'boolean' },
    'allow-external-links': { type: 'boolean' },
    'ignore-cooldown': { type: 'boolean' },
  });
  if (positionals.length > 0) throw new UsageError(`"campaign create" takes flags only, got "${positionals.join(' ')}"`);
  const dryRun = values['dry-run'] ?? false;
  const allowExternalLinks = values['allow-external-links'] ?? false;
  const ignoreCooldown = values['ignore-cooldown'] ?? false;

  return withApp(async (app) => {
    // Checked once the app is made: it loads the operator's templates (TEMPLATES_DIR) that --template may name.
    const raw = { ...values, perDay: values['per-day'], startsAt: values['starts-at'] };
    const checked = validateCampaignInput(raw, FLAG_NAMING);
    if (!checked.ok) throw new UsageError(checked.problems[0]?.message ?? 'invalid campaign');
    const { name, perDay, segment, schedule, template, startsAt: startsAtFlag } = checked.input;
    const startsAt = startsAtFlag ?? app.clock();
    const input = { name, template, segment, perDay, schedule, startsAt, allowExternalLinks, ignoreCooldown };
    const { campaign, eligible } = await createCampaign(app, input, { dryRun }).catch((error: unknown) => {
      // The checks live in createCampaign; here they only become usage errors in the CLI's words.
      if (error instanceof UnknownTemplateError) throw new UsageError(`--template must be one of ${listTemplates().join(', ')}; got "${error.templateName}"`);
      if (!(error instanceof ExternalLinksError)) throw error;
      throw new UsageError(error.message.replace('allow external links for this campaign', 'pass --allow-external-links'));
    });
    const warning = campaign ? await firstTickWarning(app, { status: campaign.status, startsAt }) : undefined;
    const result = { id: campaign?.id ?? null, status: campaign?.status ?? null, eligible, dryRun, ...(warning ? { warning } : {}) };
    printResult(values.json, result, () =>
      campaign
        ? `Created campaign ${campaign.id} (${campaign.status}): ${eligible} people eligible, ${perDay}/day; first tick at ${startsAt.toISOString()}, then on "${campaign.schedule}" (UTC).`
        : `Dry run: nothing was created. ${eligible} people would be eligible at ${perDay}/day.`,
    );
    warn(warning);
  });
}

/** A warning goes to stderr as well, so a script reading --json on stdout and a person both see it. */
function warn(warning: string | undefined): void {
  if (warning) process.stderr.write(`reverify: warning: ${warning}\n`);
}

function isAction(value: string | undefined): value is Action {
  return value !== undefined && (ACTIONS as readonly string[]).includes(value);
}

function campaignId(action: Action, positionals: string[]): string {
  const [id, ...extra] = positionals;
  if (id === undefined) throw new UsageError(`"campaign ${action}" needs a campaign id: reverify campaign ${action} ID ("reverify campaign list" shows them)`);
  if (extra.length > 0) throw new UsageError(`"campaign ${action}" takes one campaign id, got "${positionals.join(' ')}"`);
  if (!/^\d{1,18}$/.test(id)) throw new UsageError(`campaign id must be a number such as 12, got "${id}"`);
  return id;
}

/** Runs `work` with an App, closing it after; operator mistakes (unknown id, wrong state) become usage errors. */
async function withApp(work: (app: App) => Promise<void>): Promise<number> {
  const app = createApp(loadConfig());
  try {
    await work(app);
    return 0;
  } catch (error) {
    if (error instanceof CampaignNotFoundError || error instanceof CampaignStateError) throw new UsageError(error.message);
    throw error;
  } finally {
    await app.close();
  }
}
