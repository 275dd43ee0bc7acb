import Handlebars from 'handlebars';

/**
 * The console's page frame and the helpers its templates share. One
 * Handlebars instance: `{{ }}` escapes every value, so names, addresses and
 * diagnostic codes cannot inject markup. Pages load only /admin/assets/*
 * (the CSP allows nothing else), so no inline style or script anywhere.
 */

export const views = Handlebars.create();

const numberFormat = new Intl.NumberFormat('en-US');

/** 38824 → "38,824". */
export function formatNumber(value: number): string {
  return numberFormat.format(value);
}

/** An instant as "2026-11-24 11:37 UTC"; empty for null. */
export function formatUtc(value: Date | string | null | undefined): string {
  if (value === null || value === undefined) return '';
  const iso = typeof value === 'string' ? value : value.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** count of total as "12.5%" (one decimal), "–" when total is 0. */
export function formatPercent(count: number, total: number): string {
  if (total <= 0) return '–';
  return `${((count / total) * 100).toFixed(1)}%`;
}

views.registerHelper('num', (value: unknown) => (typeof value === 'number' ? formatNumber(value) : String(value ?? '')));
views.registerHelper('utc', (value: unknown) => formatUtc(value instanceof Date || typeof value === 'string' ? value : null));
views.registerHelper('eq', (a: unknown, b: unknown) => a === b);

const NAV = [
  { key: 'campaigns', text: 'Campaigns', url: '/admin/campaigns' },
  { key: 'new', text: 'New campaign', url: '/admin/campaigns/new' },
  { key: 'addresses', text: 'Address lookup', url: '/admin/addresses' },
  { key: 'sweeps', text: 'Sweeps', url: '/admin/sweeps' },
  { key: 'board', text: 'Queues', url: '/admin/queues' },
];

const frame = views.compile(
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{{#if refreshSeconds}}<meta http-equiv="refresh" content="{{refreshSeconds}}">{{/if}}
<title>{{title}} · reverify</title>
<link rel="stylesheet" href="/admin/assets/console.css">
<script src="/admin/assets/console.js" defer></script>
</head>
<body>
<header>
  <h1>reverify</h1>
  <nav>{{#each nav}}<a href="{{url}}"{{#if current}} aria-current="page"{{/if}}>{{text}}</a>{{/each}}</nav>
  <span class="clock">times in UTC{{#if refreshSeconds}} · refreshes every {{refreshSeconds}} s{{/if}}</span>
</header>
<main>
{{{body}}}
</main>
</body>
</html>
`,
  { strict: true },
);

export interface PageOptions {
  title: string;
  /** Which navigation entry is the current page. */
  section: 'campaigns' | 'new' | 'addresses' | 'sweeps';
  /** Reload the page this often (the campaign pages: figures move while it sends). */
  refreshSeconds?: number;
}

/** Wraps rendered `body` HTML in the console's frame. */
export function renderPage(options: PageOptions, body: string): string {
  return frame({
    title: options.title,
    refreshSeconds: options.refreshSeconds ?? 0,
    nav: NAV.map((entry) => ({ ...entry, current: entry.key === options.section })),
    body,
  });
}
