import type { CampaignPreview } from '../../campaigns/operations.js';
import type { CampaignSummary } from '../../campaigns/summary.js';

/** Human-readable text of campaign summaries and previews for the CLI. */

const number = new Intl.NumberFormat('en-US');

/** Several lines describing one campaign and its funnel. */
export function describeSummary(summary: CampaignSummary): string {
  const c = summary.counts;
  return [
    `Campaign ${summary.id} "${summary.name}": ${summary.status}${summary.reason ? ` (${summary.reason})` : ''}`,
    `  template ${summary.template}, segment ${summary.segment}, ${number.format(summary.perDay)}/day on "${summary.schedule}" (UTC), starts ${summary.startsAt}`,
    `  eligible ${number.format(c.eligible)} · queued ${number.format(c.queued)} · sent ${number.format(c.sent)} · delivered ${number.format(c.delivered)}` +
      ` · bounced ${number.format(c.bounced)} · complained ${number.format(c.complained)} · failed ${number.format(c.failed)}` +
      ` · skipped ${number.format(c.skipped)} · verified ${number.format(c.verified)}`,
    `  now: ${number.format(c.pending)} planned and waiting for a day's budget, ${number.format(c.waiting)} in the send queue` +
      `, ${number.format(c.unconfirmed)} unconfirmed (a crash left their outcome unknown; waiting for SES's events)`,
    ...(c.sentTwice > 0 ? [`  ${number.format(c.sentTwice)} people got two messages: SES took a message given up on after its resend`] : []),
    `  reputation guard counts ${number.format(c.bouncesCounted)} bounces (${rate(c.bouncesCounted, c.sent)} of sent) and ${number.format(c.complained)} complaints (${rate(c.complained, c.sent)});` +
      ` not counted: ${number.format(c.bouncesNotCounted)} on an SES suppression list, ${number.format(c.transientBounces)} transient`,
  ].join('\n');
}

function rate(part: number, whole: number): string {
  return whole === 0 ? '0%' : `${Number(((part / whole) * 100).toFixed(2))}%`;
}

/** One line per campaign. */
export function describeList(summaries: readonly CampaignSummary[]): string {
  if (summaries.length === 0) return 'No campaigns yet. Create one with "reverify campaign create --help".';
  return summaries
    .map((s) => `${s.id.padStart(4)}  ${s.status.padEnd(9)}  ${s.name}  (sent ${number.format(s.counts.sent)} of ${number.format(s.counts.eligible)}, verified ${number.format(s.counts.verified)})`)
    .join('\n');
}

/** The preview: who is reached, who is left out and why, how long it takes, and the message. */
export function describePreview(preview: CampaignPreview, perDay: number): string {
  const { has_verified_secondary: promotable, ...rules } = preview.excluded;
  const excluded = Object.entries(rules).sort(([, a], [, b]) => (b ?? 0) - (a ?? 0));
  return [
    `Eligible now: ${number.format(preview.eligible)}`,
    ...(promotable
      ? [`  of whom ${number.format(promotable)} have a verified secondary address (has_verified_secondary): "reverify emails promote-verified-secondaries" would make it their primary, and they would not be mailed`]
      : []),
    'Excluded (first rule each user fails):',
    ...(excluded.length === 0 ? ['  nobody'] : excluded.map(([reason, count]) => `  ${reason.padEnd(20)} ${number.format(count ?? 0)}`)),
    preview.projectedFinish === null
      ? 'Nobody is left to mail.'
      : `At ${number.format(perDay)}/day this takes ${number.format(preview.projectedDays)} days, finishing on ${preview.projectedFinish} (UTC).`,
    '',
    `Example message (to ${preview.message.to}; the link in it confirms nothing):`,
    `Subject: ${preview.message.subject}`,
    '',
    preview.message.text.trimEnd(),
  ].join('\n');
}
