import { ACTIVITY_KINDS, type CampaignActivity } from '../../campaigns/activity.js';
import { formatNumber } from './layout.js';

/**
 * The campaign page's chart, drawn on the server as inline SVG: per hour or
 * day, a group of four bars (sent, delivered, bounced, verified). No script,
 * no chart library, nothing fetched. Each bar has a <title> with its figure.
 */

const WIDTH = 1000;
const HEIGHT = 220;
const LEFT = 44;
const BOTTOM = 24;
const TOP = 8;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Bucket label: "14:00" per hour (with the date at midnight and first), "03-02" per day. */
function label(start: string, unit: 'hour' | 'day', index: number): string {
  if (unit === 'day') return start.slice(5, 10);
  const hour = start.slice(11, 16);
  return index === 0 || hour === '00:00' ? `${start.slice(5, 10)} ${hour}` : hour;
}

/** The SVG markup of `activity`, or a sentence when nothing was sent yet. */
export function renderActivityChart(activity: CampaignActivity): string {
  const { buckets, unit } = activity;
  if (buckets.length === 0) return '<p class="empty">Nothing sent yet: the chart starts with the first send.</p>';
  const max = Math.max(1, ...buckets.flatMap((bucket) => ACTIVITY_KINDS.map((kind) => bucket.counts[kind])));
  const plotWidth = WIDTH - LEFT - 8;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const slot = plotWidth / buckets.length;
  const bar = Math.max(1, (slot * 0.8) / ACTIVITY_KINDS.length);
  const labelEvery = Math.ceil(buckets.length / 12);
  const parts: string[] = [
    `<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="sends, deliveries, bounces and verifications per ${unit} (UTC)" data-unit="${unit}">`,
    `<line class="axis" x1="${LEFT}" y1="${TOP + plotHeight}" x2="${WIDTH - 8}" y2="${TOP + plotHeight}"/>`,
    `<text x="${LEFT - 6}" y="${TOP + 8}" text-anchor="end">${formatNumber(max)}</text>`,
    `<text x="${LEFT - 6}" y="${TOP + plotHeight}" text-anchor="end">0</text>`,
  ];
  buckets.forEach((bucket, index) => {
    const x0 = LEFT + index * slot + slot * 0.1;
    ACTIVITY_KINDS.forEach((kind, k) => {
      const count = bucket.counts[kind];
      const height = (count / max) * plotHeight;
      const title = `${kind} ${formatNumber(count)} · ${bucket.start.replace('T', ' ').replace(':00Z', '')} UTC`;
      parts.push(
        `<rect class="${kind}" data-bucket="${escape(bucket.start)}" data-kind="${kind}" data-count="${count}" x="${(x0 + k * bar).toFixed(1)}" y="${(TOP + plotHeight - height).toFixed(1)}" width="${bar.toFixed(1)}" height="${height.toFixed(1)}"><title>${escape(title)}</title></rect>`,
      );
    });
    if (index % labelEvery === 0) {
      parts.push(`<text x="${(x0 + (bar * ACTIVITY_KINDS.length) / 2).toFixed(1)}" y="${HEIGHT - 8}" text-anchor="middle">${escape(label(bucket.start, unit, index))}</text>`);
    }
  });
  parts.push('</svg>');
  const legend = ACTIVITY_KINDS.map((kind) => `<span><i class="${kind}"></i>${kind}</span>`).join('');
  return `${parts.join('')}<p class="legend">per ${unit}, UTC: ${legend}</p>`;
}
