import { SEGMENTS } from '../../campaigns/eligibility/segment.js';
import type { CampaignPreview } from '../../campaigns/operations.js';
import { listTemplates } from '../../mail/render.js';
import type { InputProblem } from './campaign-commands.js';
import { CSRF_FIELD } from './csrf.js';
import { renderPage, views } from './layout.js';

/**
 * The form that creates a campaign. "Preview" shows, before anything is
 * saved, who it reaches, who it leaves out and why, how many days the budget
 * needs, when it would finish, and the message one recipient would get;
 * "Create" appears only beside the preview of exactly the values in the form.
 * The script updates the preview as the operator types.
 */

/** The form's fields as typed (strings; the checkbox as "on" or absent). */
export interface CampaignFormValues {
  name: string;
  segment: string;
  perDay: string;
  schedule: string;
  template: string;
  startsAt: string;
  allowExternalLinks: boolean;
  ignoreCooldown: boolean;
}

export const EMPTY_FORM: CampaignFormValues = {
  name: '',
  segment: SEGMENTS[0],
  perDay: '200',
  schedule: '0 * * * *',
  template: 'reverify-email',
  startsAt: '',
  allowExternalLinks: false,
  ignoreCooldown: false,
};

const body = views.compile(
  `<section class="card">
  <h2>New campaign</h2>
  {{#if problems.length}}<div class="errors" data-field="errors">{{#each problems}}<p>{{message}}</p>{{/each}}</div>{{/if}}
  {{#if notice}}<p class="notice">{{notice}}</p>{{/if}}
  <form method="post" action="/admin/campaigns/new" id="campaign-form" class="campaign-form">
    <input type="hidden" name="${CSRF_FIELD}" value="{{csrf}}">
    <input type="hidden" name="previewed" value="{{previewed}}">
    <label for="name">Name</label><input id="name" name="name" value="{{v.name}}" required placeholder="2fa reverify 2026">
    <label for="segment">Segment</label><select id="segment" name="segment">{{#each segments}}<option{{#if selected}} selected{{/if}}>{{value}}</option>{{/each}}</select>
    <label for="perDay">Per day</label><input id="perDay" name="perDay" value="{{v.perDay}}" inputmode="numeric">
    <span class="hint">the most messages one UTC day may send</span>
    <label for="schedule">Schedule</label><input id="schedule" name="schedule" value="{{v.schedule}}">
    <span class="hint">cron, UTC: each tick sends its share of the day's budget ("0 * * * *" = hourly)</span>
    <label for="template">Template</label><select id="template" name="template">{{#each templates}}<option{{#if selected}} selected{{/if}}>{{value}}</option>{{/each}}</select>
    <label for="startsAt">Starts at</label><input id="startsAt" name="startsAt" value="{{v.startsAt}}" placeholder="2026-01-31T03:00:00Z">
    <span class="hint">UTC, ISO 8601; empty: now</span>
    <label for="allowExternalLinks">External links</label><span><input type="checkbox" id="allowExternalLinks" name="allowExternalLinks"{{#if v.allowExternalLinks}} checked{{/if}}> allow links outside PUBLIC_BASE_URL</span>
    <label for="ignoreCooldown">Cooldown</label><span><input type="checkbox" id="ignoreCooldown" name="ignoreCooldown"{{#if v.ignoreCooldown}} checked{{/if}}> include people another campaign mailed within CAMPAIGN_COOLDOWN_DAYS</span>
    <span></span>
    <div class="actions">
      <button type="submit" name="intent" value="preview" class="secondary">Preview</button>
      {{#if preview}}<button type="submit" name="intent" value="create">Create campaign</button>{{/if}}
    </div>
  </form>
</section>
<section class="card" id="preview">
  <h3>Preview</h3>
  <div id="live-preview">
  {{#if preview}}
    <p>Eligible now: <b data-field="eligible">{{num preview.eligible}}</b></p>
    <table><tr><th>Excluded because</th><th class="n">people</th></tr>
      {{#each excluded}}<tr><td>{{reason}}</td><td class="n" data-excluded="{{reason}}">{{num count}}</td></tr>{{else}}<tr><td colspan="2">nobody</td></tr>{{/each}}
    </table>
    {{#if preview.projectedFinish}}
      <p data-field="projection">At {{num perDay}}/day this takes <b>{{num preview.projectedDays}}</b> day(s), finishing on <b>{{preview.projectedFinish}}</b> (UTC).</p>
    {{else}}<p data-field="projection">Nobody is left to mail.</p>{{/if}}
    <p>Example message to <code>{{preview.message.to}}</code> (its link confirms nothing):</p>
    <p><b>Subject:</b> <span data-field="subject">{{preview.message.subject}}</span></p>
    <pre class="message" data-field="message">{{preview.message.text}}</pre>
  {{else}}<p class="empty">Fill in the form and press Preview (or just type: the preview follows).</p>{{/if}}
  </div>
</section>`,
  { strict: true },
);

export interface CampaignFormView {
  values: CampaignFormValues;
  csrf: string;
  problems: readonly InputProblem[];
  preview?: CampaignPreview;
  /** Fingerprint of the values the preview shows; "Create" must send it back unchanged. */
  previewed: string;
  notice?: string;
}

/** Renders the new-campaign form, with the preview when there is one. */
export function renderCampaignForm(view: CampaignFormView): string {
  const options = (values: readonly string[], selected: string) => values.map((value) => ({ value, selected: value === selected }));
  const html = body({
    v: view.values,
    csrf: view.csrf,
    previewed: view.previewed,
    notice: view.notice ?? '',
    problems: view.problems,
    segments: options(SEGMENTS, view.values.segment),
    templates: options(listTemplates(), view.values.template),
    preview: view.preview ?? null,
    perDay: Number(view.values.perDay),
    excluded: Object.entries(view.preview?.excluded ?? {})
      .sort(([, a], [, b]) => (b ?? 0) - (a ?? 0))
      .map(([reason, count]) => ({ reason, count })),
  });
  return renderPage({ title: 'New campaign', section: 'new' }, html);
}
