import type { CampaignActivity, CampaignProgress } from '../../campaigns/activity.js';
import type { CampaignSummary } from '../../campaigns/summary.js';
import type { Config } from '../../config.js';
import { QUEUE_NAMES } from '../../queue/names.js';
import { renderActivityChart } from './activity-chart.js';
import { CSRF_FIELD } from './csrf.js';
import { FUNNEL_PARTIAL, funnelRows } from './funnel.js';
import { formatNumber, formatPercent, renderPage, views } from './layout.js';

/**
 * One campaign's page: state and why, the funnel with percentages, the
 * reputation figures against the guard's limits, today's budget, the
 * projected finish, the chart, the buttons and links to its jobs. It reloads
 * itself every 30 seconds.
 */

const body = views.compile(
  `<section class="card campaign" id="campaign-{{s.id}}" data-campaign-id="{{s.id}}">
  <h2>#{{s.id}} {{s.name}} <span class="status status-{{s.status}}" data-field="status">{{s.status}}</span></h2>
  <p class="meta">template <code>{{s.template}}</code> · segment <code>{{s.segment}}</code> · schedule <code>{{s.schedule}}</code> (UTC) ·
    <b>{{num s.perDay}}</b>/day · starts {{utc s.startsAt}} · created {{utc s.createdAt}}{{#if s.finishedAt}} · finished {{utc s.finishedAt}}{{/if}}</p>
  {{#if notice}}<p class="notice" data-field="notice">{{notice}}</p>{{/if}}
  {{#if s.reason}}<p class="reason" data-field="reason"><b>Why {{s.status}}:</b> {{s.reason}}</p>{{/if}}
  <div class="actions">
    {{#if canPause}}<form method="post" action="/admin/campaigns/{{s.id}}/pause"><input type="hidden" name="${CSRF_FIELD}" value="{{csrf}}"><button type="submit" class="secondary">Pause</button></form>{{/if}}
    {{#if canResume}}<form method="post" action="/admin/campaigns/{{s.id}}/resume"><input type="hidden" name="${CSRF_FIELD}" value="{{csrf}}"><button type="submit">Resume</button></form>{{/if}}
    {{#if canCancel}}<form method="get" action="/admin/campaigns/{{s.id}}/cancel"><button type="submit" class="danger">Cancel…</button></form>{{/if}}
  </div>
</section>
<section class="card">
  <h3>Funnel</h3>
  ${FUNNEL_PARTIAL}
  <div class="outcomes">{{#each outcomes}}<span class="{{#if bad}}bad{{/if}}">{{label}} <b data-count="{{key}}">{{num count}}</b></span>{{/each}}</div>
</section>
<section class="card figures">
  {{#each figures}}<div class="figure{{#if over}} over{{/if}}" data-figure="{{key}}"><div>{{label}}</div><div class="value">{{value}}</div><div class="limit">{{limit}}</div></div>{{/each}}
</section>
<section class="card chart" id="activity">
  <h3>Activity per {{activity.unit}}</h3>
  {{{chart}}}
</section>
<section class="card links"><h3>Jobs and data</h3>{{#each links}}<a href="{{url}}">{{text}}</a>{{/each}}</section>`,
  { strict: true },
);

export interface CampaignPageView {
  summary: CampaignSummary;
  progress: CampaignProgress;
  activity: CampaignActivity;
  csrf: string;
  config: Pick<Config, 'REPUTATION_MAX_BOUNCE_RATE' | 'REPUTATION_MAX_COMPLAINT_RATE' | 'REPUTATION_MIN_SAMPLE'>;
  /** What an action just did (after a redirect). */
  notice?: string;
}

/** The reputation figures, today's budget and the projected finish. */
function figures(view: CampaignPageView) {
  const { counts } = view.summary;
  const { config, progress } = view;
  const sampled = counts.sent >= config.REPUTATION_MIN_SAMPLE;
  const sampleNote = sampled ? '' : ` · guard acts after ${formatNumber(config.REPUTATION_MIN_SAMPLE)} sends`;
  const rate = (n: number) => (counts.sent > 0 ? n / counts.sent : 0);
  return [
    {
      key: 'bounce-rate',
      label: 'Bounce rate',
      // The guard's figure: permanent bounces SES holds against the sender; the others are named beside it.
      value: formatPercent(counts.bouncesCounted, counts.sent),
      limit: `limit ${(config.REPUTATION_MAX_BOUNCE_RATE * 100).toFixed(1)}%${sampleNote}${uncountedBounces(counts)}`,
      over: rate(counts.bouncesCounted) > config.REPUTATION_MAX_BOUNCE_RATE,
    },
    {
      key: 'complaint-rate',
      label: 'Complaint rate',
      value: formatPercent(counts.complained, counts.sent),
      limit: `limit ${(config.REPUTATION_MAX_COMPLAINT_RATE * 100).toFixed(2)}%${sampleNote}`,
      over: rate(counts.complained) > config.REPUTATION_MAX_COMPLAINT_RATE,
    },
    { key: 'budget-today', label: "Today's budget (UTC day)", value: `${formatNumber(progress.usedToday)} of ${formatNumber(progress.perDay)}`, limit: formatPercent(progress.usedToday, progress.perDay) + ' used', over: false },
    {
      key: 'projected-finish',
      label: 'Projected finish',
      value: progress.projectedFinish ?? '—',
      limit: progress.projectedFinish
        ? `${formatNumber(progress.remaining)} still to queue${view.summary.status === 'paused' ? ', if resumed today' : ''}`
        : 'nobody left to queue, or the campaign has ended',
      over: false,
    },
  ];
}

/** The bounces the guard leaves out, as SES does: suppression-list answers and transient bounces. */
function uncountedBounces(counts: CampaignPageView['summary']['counts']): string {
  const parts = [];
  if (counts.bouncesNotCounted > 0) parts.push(`${formatNumber(counts.bouncesNotCounted)} from SES's suppression list`);
  if (counts.transientBounces > 0) parts.push(`${formatNumber(counts.transientBounces)} transient`);
  return parts.length > 0 ? ` · not counted: ${parts.join(', ')}` : '';
}

const OUTCOMES = ['queued', 'pending', 'waiting', 'unconfirmed', 'bounced', 'complained', 'failed', 'skipped', 'sentTwice'] as const;
const BAD_OUTCOMES: ReadonlySet<string> = new Set(['unconfirmed', 'bounced', 'complained', 'failed', 'sentTwice']);

/** The counts beside the funnel; `sentTwice` (a first attempt SES took after all, found once its resend had left) is shown only when it happened. */
function outcomeCounts(counts: CampaignPageView['summary']['counts']) {
  return OUTCOMES.filter((key) => key !== 'sentTwice' || counts.sentTwice > 0).map((key) => ({
    key,
    label: key === 'sentTwice' ? 'sent twice' : key,
    count: counts[key],
    bad: BAD_OUTCOMES.has(key) && counts[key] > 0,
  }));
}

/** Renders campaign `view.summary`'s page. */
export function renderCampaignPage(view: CampaignPageView, boardPath = '/admin/queues'): string {
  const s = view.summary;
  const id = encodeURIComponent(s.id);
  const html = body({
    s: { ...s, reason: s.reason ?? '', finishedAt: s.finishedAt ?? '' },
    notice: view.notice ?? '',
    csrf: view.csrf,
    canPause: s.status === 'running' || s.status === 'scheduled',
    canResume: s.status === 'paused',
    canCancel: s.status !== 'cancelled' && s.status !== 'completed',
    funnel: funnelRows(s.counts),
    outcomes: outcomeCounts(s.counts),
    figures: figures(view),
    activity: view.activity,
    chart: renderActivityChart(view.activity),
    links: [
      { text: 'its first tick', url: `${boardPath}/queue/${QUEUE_NAMES.campaigns}/campaign-${id}-start` },
      { text: 'campaign ticks', url: `${boardPath}/queue/${QUEUE_NAMES.campaigns}` },
      { text: 'send queue', url: `${boardPath}/queue/${QUEUE_NAMES.send}` },
      { text: 'failed sends', url: `${boardPath}/queue/${QUEUE_NAMES.send}?status=failed` },
      { text: 'JSON', url: `/admin/api/campaigns/${id}` },
      { text: 'all campaigns', url: '/admin/campaigns' },
    ],
  });
  return renderPage({ title: `Campaign #${s.id} ${s.name}`, section: 'campaigns', refreshSeconds: 30 }, html);
}

const confirmBody = views.compile(
  `<section class="card">
  <h2>Cancel campaign #{{s.id}} {{s.name}}?</h2>
  <p>Cancelling ends it for good: {{num unsent}} recipient(s) not yet sent are skipped (<code>campaign_cancelled</code>) and its schedule is removed. It cannot be resumed.</p>
  <div class="actions">
    <form method="post" action="/admin/campaigns/{{s.id}}/cancel"><input type="hidden" name="${CSRF_FIELD}" value="{{csrf}}"><button type="submit" class="danger">Yes, cancel it</button></form>
    <form method="get" action="/admin/campaigns/{{s.id}}"><button type="submit" class="secondary">No, keep it</button></form>
  </div>
</section>`,
  { strict: true },
);

/** The confirmation asked before a campaign is cancelled. */
export function renderCancelConfirmation(summary: CampaignSummary, csrf: string): string {
  const unsent = summary.counts.eligible - summary.counts.sent - summary.counts.failed - summary.counts.skipped;
  return renderPage({ title: `Cancel campaign #${summary.id}`, section: 'campaigns' }, confirmBody({ s: summary, csrf, unsent: Math.max(0, unsent) }));
}
