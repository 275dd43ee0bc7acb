import { QUEUE_NAMES } from '../../queue/names.js';
import type { CampaignFilter } from '../../campaigns/summary-page.js';
import type { CampaignSummary } from '../../campaigns/summary.js';
import { FUNNEL_PARTIAL, funnelRows } from './funnel.js';
import { formatPercent, renderPage, views } from './layout.js';

/**
 * The campaign list: state, schedule, budget and progress toward eligible of
 * each campaign, filtered (running, paused, finished) and paged.
 */

const OUTCOMES = ['queued', 'bounced', 'complained', 'failed', 'skipped'] as const;

const body = views.compile(
  `<div class="filters">{{#each filters}}<a href="{{url}}"{{#if current}} aria-current="page"{{/if}}>{{text}}</a>{{/each}}
  · <a href="/admin/campaigns/new">New campaign</a> · <a href="/admin/api/campaigns">JSON</a></div>
{{#each campaigns}}
  <section class="campaign" id="campaign-{{id}}" data-campaign-id="{{id}}">
    <h2><a href="/admin/campaigns/{{id}}">#{{id}} {{name}}</a> <span class="status status-{{status}}" data-field="status">{{status}}</span></h2>
    <p class="meta">
      template <code>{{template}}</code> · segment <code>{{segment}}</code> ·
      schedule <code data-field="schedule">{{schedule}}</code> (UTC) ·
      daily budget <b data-field="per-day">{{num perDay}}</b>/day · starts {{utc startsAt}}{{#if finishedAt}} · finished {{utc finishedAt}}{{/if}} ·
      progress <b data-field="progress">{{progress}}</b> of eligible sent
    </p>
    {{#if reason}}<p class="reason" data-field="reason"><b>{{status}}:</b> {{reason}}</p>{{/if}}
    ${FUNNEL_PARTIAL}
    <div class="outcomes">
      {{#each outcomes}}<span class="{{#if bad}}bad{{/if}}">{{label}} <b data-count="{{label}}">{{num count}}</b></span>{{/each}}
    </div>
    <div class="links">{{#each links}}<a href="{{url}}">{{text}}</a>{{/each}}</div>
  </section>
{{else}}
  <p class="empty">{{emptyText}}</p>
{{/each}}
<div class="pager">
  {{#if previousUrl}}<a href="{{previousUrl}}" rel="prev">← newer</a>{{/if}}
  <span>page {{num page}} of {{num pages}} · {{num total}} campaign(s)</span>
  {{#if nextUrl}}<a href="{{nextUrl}}" rel="next">older →</a>{{/if}}
</div>`,
  { strict: true },
);

export interface CampaignListView {
  summaries: readonly CampaignSummary[];
  filter: CampaignFilter;
  page: number;
  perPage: number;
  total: number;
}

const FILTER_TEXT: Record<CampaignFilter, string> = { all: 'All', running: 'Running', paused: 'Paused', finished: 'Finished' };

function listUrl(filter: CampaignFilter, page: number): string {
  const query = new URLSearchParams();
  if (filter !== 'all') query.set('status', filter);
  if (page > 1) query.set('page', String(page));
  const text = query.toString();
  return text ? `/admin/campaigns?${text}` : '/admin/campaigns';
}

/** Renders the campaigns page. */
export function renderCampaignsPage(view: CampaignListView, boardPath = '/admin/queues'): string {
  const pages = Math.max(1, Math.ceil(view.total / view.perPage));
  const campaigns = view.summaries.map((summary) => ({
    ...summary,
    finishedAt: summary.finishedAt ?? '',
    reason: summary.reason ?? '',
    progress: formatPercent(summary.counts.sent, summary.counts.eligible),
    funnel: funnelRows(summary.counts),
    outcomes: OUTCOMES.map((label) => ({ label, count: summary.counts[label], bad: label !== 'queued' && summary.counts[label] > 0 })),
    links: [
      { text: 'details', url: `/admin/campaigns/${encodeURIComponent(summary.id)}` },
      { text: 'send queue', url: `${boardPath}/queue/${QUEUE_NAMES.send}` },
      { text: 'failed sends', url: `${boardPath}/queue/${QUEUE_NAMES.send}?status=failed` },
      { text: 'campaign ticks', url: `${boardPath}/queue/${QUEUE_NAMES.campaigns}` },
      { text: 'JSON', url: `/admin/api/campaigns/${encodeURIComponent(summary.id)}` },
    ],
  }));
  const html = body({
    filters: (Object.keys(FILTER_TEXT) as CampaignFilter[]).map((filter) => ({ text: FILTER_TEXT[filter], url: listUrl(filter, 1), current: filter === view.filter })),
    campaigns,
    emptyText: view.filter === 'all' ? 'No campaigns yet. Create one with "New campaign" or reverify campaign create.' : `No ${view.filter} campaigns.`,
    page: view.page,
    pages,
    total: view.total,
    previousUrl: view.page > 1 ? listUrl(view.filter, view.page - 1) : '',
    nextUrl: view.page < pages ? listUrl(view.filter, view.page + 1) : '',
  });
  return renderPage({ title: 'Campaigns', section: 'campaigns', refreshSeconds: 30 }, html);
}

