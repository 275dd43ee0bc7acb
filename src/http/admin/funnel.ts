import type { CampaignCounts } from '../../campaigns/summary.js';
import { formatPercent } from './layout.js';

/** The funnel rows the list and the campaign page draw: counts, percentages and bar widths. */

export interface FunnelRow {
  label: string;
  count: number;
  /** What the percentage is of, e.g. "of eligible". */
  of: string;
  percent: string;
  /** Bar width in percent of the eligible count (0–100). */
  width: string;
}

function width(count: number, total: number): string {
  if (total <= 0) return '0';
  return Math.min(100, (count / total) * 100).toFixed(1);
}

/** sent of eligible, delivered of sent, verified of sent; bars scaled to eligible. */
export function funnelRows(counts: CampaignCounts): FunnelRow[] {
  const scale = Math.max(counts.eligible, counts.sent);
  return [
    { label: 'eligible', count: counts.eligible, of: '', percent: '', width: width(counts.eligible, scale) },
    { label: 'sent', count: counts.sent, of: 'of eligible', percent: formatPercent(counts.sent, counts.eligible), width: width(counts.sent, scale) },
    { label: 'delivered', count: counts.delivered, of: 'of sent', percent: formatPercent(counts.delivered, counts.sent), width: width(counts.delivered, scale) },
    { label: 'verified', count: counts.verified, of: 'of sent', percent: formatPercent(counts.verified, counts.sent), width: width(counts.verified, scale) },
  ];
}

/** The funnel's markup: label, bar (SVG, so the CSP needs no inline style), count, percentage. */
export const FUNNEL_PARTIAL = `<div class="funnel">
  {{#each funnel}}
  <span>{{label}}</span>
  <svg viewBox="0 0 100 16" preserveAspectRatio="none" role="img" aria-label="{{label}} {{num count}}"><rect class="track" width="100" height="16" rx="3"/><rect class="fill {{label}}" width="{{width}}" height="16" rx="3"/></svg>
  <span class="count" data-count="{{label}}">{{num count}}</span>
  <span class="pct" data-percent="{{label}}">{{percent}} {{of}}</span>
  {{/each}}
</div>`;
