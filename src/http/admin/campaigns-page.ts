import Handlebars from 'handlebars';
import { QUEUE_NAMES } from '../../queue/names.js';
import type { CampaignSummary } from '../../campaigns/summary.js';

/**
 * The campaigns page: server-rendered HTML with no build step. Handlebars
 * escapes every value ({{ }}), so a campaign name cannot inject markup.
 */

const FUNNEL = ['eligible', 'sent', 'delivered', 'verified'] as const;
const OUTCOMES = ['queued', 'bounced', 'complained', 'failed', 'skipped'] as const;

const template = Handlebars.compile(
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Campaigns · reverify</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 12px 24px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header a { color: #b9c7ff; }
  main { padding: 16px 24px; display: grid; gap: 16px; max-width: 1100px; }
  .campaign { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: 16px 20px; }
  .campaign h2 { font-size: 16px; margin: 0 0 4px; }
  .meta { color: #5a6272; margin: 0 0 12px; }
  .status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; background: #e6e9ef; }
  .status-running { background: #d4f5dd; color: #145c2a; }
  .status-paused { background: #ffe9c2; color: #7a4b00; }
  .status-cancelled { background: #f8d7da; color: #7b1c24; }
  .status-completed { background: #dce8ff; color: #1d3d7a; }
  .reason { background: #fff6e0; border-left: 4px solid #f0a500; padding: 6px 10px; margin: 0 0 12px; }
  .funnel { display: grid; grid-template-columns: 90px 1fr 70px; gap: 4px 10px; align-items: center; }
  .bar { height: 16px; background: #eef0f4; border-radius: 3px; overflow: hidden; }
  .bar span { display: block; height: 100%; background: #4f6bd8; }
  .bar.verified span { background: #2e9e58; }
  .count { text-align: right; font-variant-numeric: tabular-nums; }
  .outcomes { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 10px 0 6px; color: #5a6272; }
  .outcomes b { color: #1d2330; font-variant-numeric: tabular-nums; }
  .outcomes .bad b { color: #b3261e; }
  .links a { margin-right: 14px; }
  .empty { color: #5a6272; }
</style>
</head>
<body>
<header>
  <h1>reverify · campaigns</h1>
  <a href="/admin/queues">queue dashboard</a>
  <a href="/admin/api/campaigns">JSON</a>
</header>
<main>
{{#each campaigns}}
  <section class="campaign" id="campaign-{{id}}" data-campaign-id="{{id}}">
    <h2>#{{id}} {{name}} <span class="status status-{{status}}" data-field="status">{{status}}</span></h2>
    <p class="meta">
      template <code>{{template}}</code> · segment <code>{{segment}}</code> ·
      schedule <code data-field="schedule">{{schedule}}</code> (UTC) ·
      daily budget <b data-field="per-day">{{perDay}}</b>/day · starts {{startsAt}}{{#if finishedAt}} · finished {{finishedAt}}{{/if}}
    </p>
    {{#if reason}}<p class="reason" data-field="reason"><b>{{status}}:</b> {{reason}}</p>{{/if}}
    <div class="funnel">
      {{#each funnel}}
      <span>{{label}}</span>
      <div class="bar {{label}}" title="{{count}} of {{../eligible}}"><span style="width: {{percent}}%"></span></div>
      <span class="count" data-count="{{label}}">{{count}}</span>
      {{/each}}
    </div>
    <div class="outcomes">
      {{#each outcomes}}<span class="{{#if bad}}bad{{/if}}">{{label}} <b data-count="{{label}}">{{count}}</b></span>{{/each}}
    </div>
    <div class="links">
      {{#each links}}<a href="{{url}}">{{text}}</a>{{/each}}
    </div>
  </section>
{{else}}
  <p class="empty">No campaigns yet. Create one with <code>reverify campaign create</code>.</p>
{{/each}}
</main>
</body>
</html>
`,
  { strict: true },
);

/** "2026-11-24T11:37:49.096Z" → "2026-11-24 11:37 UTC". */
function shortInstant(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

function percent(count: number, of: number): string {
  if (of <= 0) return '0';
  return Math.min(100, (count / of) * 100).toFixed(1);
}

/** Renders the campaigns page for `views`. */
export function renderCampaignsPage(summaries: readonly CampaignSummary[], boardPath = '/admin/queues'): string {
  const campaigns = summaries.map((summary) => {
    const { counts } = summary;
    const eligible = counts.eligible;
    return {
      id: summary.id,
      name: summary.name,
      status: summary.status,
      template: summary.template,
      segment: summary.segment,
      schedule: summary.schedule,
      perDay: summary.perDay,
      startsAt: shortInstant(summary.startsAt),
      finishedAt: summary.finishedAt ? shortInstant(summary.finishedAt) : '',
      reason: summary.reason ?? '',
      eligible,
      funnel: FUNNEL.map((label) => ({ label, count: counts[label], percent: percent(counts[label], Math.max(eligible, counts.sent)) })),
      outcomes: OUTCOMES.map((label) => ({ label, count: counts[label], bad: label !== 'queued' && counts[label] > 0 })),
      links: [
        { text: 'send queue', url: `${boardPath}/queue/${QUEUE_NAMES.send}` },
        { text: 'failed sends', url: `${boardPath}/queue/${QUEUE_NAMES.send}?status=failed` },
        { text: 'campaign ticks', url: `${boardPath}/queue/${QUEUE_NAMES.campaigns}` },
        { text: 'JSON', url: `/admin/api/campaigns/${encodeURIComponent(summary.id)}` },
      ],
    };
  });
  return template({ campaigns });
}
