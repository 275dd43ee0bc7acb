import type { FastifyInstance } from 'fastify';

/**
 * The console's stylesheet and its one script, served from /admin/assets so
 * the pages' CSP can forbid inline code. No build step and nothing fetched
 * from elsewhere at run time. The script only adds comfort (the live preview,
 * the confirmation before cancelling); every page and form works without it.
 */

const CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1d2330; }
header { background: #1d2330; color: #fff; padding: 10px 24px; display: flex; gap: 20px; align-items: baseline; flex-wrap: wrap; }
header h1 { font-size: 18px; margin: 0; }
header nav a { color: #b9c7ff; margin-right: 16px; text-decoration: none; }
header nav a[aria-current="page"] { color: #fff; font-weight: 600; border-bottom: 2px solid #b9c7ff; }
header .clock { color: #9aa3b5; font-size: 12px; margin-left: auto; }
main { padding: 16px 24px; display: grid; gap: 16px; max-width: 1100px; }
h2 { font-size: 18px; margin: 0 0 6px; }
h3 { font-size: 15px; margin: 0 0 8px; }
.card, .campaign { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: 16px 20px; }
.campaign h2 { font-size: 16px; margin: 0 0 4px; }
.campaign h2 a { color: inherit; }
.meta { color: #5a6272; margin: 0 0 12px; }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; background: #e6e9ef; }
.status-running { background: #d4f5dd; color: #145c2a; }
.status-paused { background: #ffe9c2; color: #7a4b00; }
.status-cancelled { background: #f8d7da; color: #7b1c24; }
.status-completed { background: #dce8ff; color: #1d3d7a; }
.reason { background: #fff6e0; border-left: 4px solid #f0a500; padding: 6px 10px; margin: 0 0 12px; }
.funnel { display: grid; grid-template-columns: 90px 1fr 80px 130px; gap: 4px 10px; align-items: center; }
.funnel svg { width: 100%; height: 16px; display: block; }
.funnel .track { fill: #eef0f4; }
.funnel .fill { fill: #4f6bd8; }
.funnel .fill.verified { fill: #2e9e58; }
.count, td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.pct { color: #5a6272; text-align: right; font-variant-numeric: tabular-nums; }
.outcomes { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 10px 0 6px; color: #5a6272; }
.outcomes b { color: #1d2330; font-variant-numeric: tabular-nums; }
.outcomes .bad b { color: #b3261e; }
.links a { margin-right: 14px; }
.empty { color: #5a6272; }
.filters a { margin-right: 10px; }
.filters a[aria-current="page"] { font-weight: 600; }
.pager { display: flex; gap: 16px; align-items: center; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { border-bottom: 1px solid #e3e6ec; padding: 5px 8px; text-align: left; vertical-align: top; }
th { color: #5a6272; font-weight: 600; font-size: 12px; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px; }
.figure { background: #f7f8fb; border-radius: 6px; padding: 8px 12px; }
.figure .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.figure .limit { color: #5a6272; font-size: 12px; }
.figure.over .value { color: #b3261e; }
.chart svg { width: 100%; height: auto; }
.chart .axis { stroke: #c5cad4; }
.chart text { font-size: 10px; fill: #5a6272; }
.chart .sent { fill: #4f6bd8; } .chart .delivered { fill: #7fb3f0; } .chart .bounced { fill: #d9534f; } .chart .verified { fill: #2e9e58; }
.legend span { margin-right: 14px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
.legend .sent { background: #4f6bd8; } .legend .delivered { background: #7fb3f0; } .legend .bounced { background: #d9534f; } .legend .verified { background: #2e9e58; }
.actions { display: flex; gap: 10px; }
.actions form { margin: 0; }
button { font: inherit; padding: 5px 14px; border-radius: 5px; border: 1px solid #4f6bd8; background: #4f6bd8; color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: #4f6bd8; }
button.danger { background: #b3261e; border-color: #b3261e; }
form.campaign-form { display: grid; grid-template-columns: 160px 1fr; gap: 8px 14px; align-items: start; }
form.campaign-form label { padding-top: 5px; font-weight: 600; }
form.campaign-form input, form.campaign-form select { font: inherit; padding: 4px 6px; width: 100%; max-width: 420px; box-sizing: border-box; }
form.campaign-form input[type="checkbox"] { width: auto; }
form.campaign-form .hint { color: #5a6272; font-size: 12px; grid-column: 2; margin-top: -6px; }
.error { color: #b3261e; }
.errors { background: #fdecea; border-left: 4px solid #b3261e; padding: 6px 12px; }
.notice { background: #e7f5ea; border-left: 4px solid #2e9e58; padding: 6px 12px; }
pre.message { background: #f7f8fb; padding: 10px; white-space: pre-wrap; max-height: 320px; overflow: auto; }
.search input { font: inherit; padding: 5px 8px; width: 360px; }
.history td:first-child { white-space: nowrap; }
`;

const SCRIPT = `
'use strict';
document.addEventListener('submit', function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute('data-confirm');
  if (question && !window.confirm(question)) event.preventDefault();
});

(function livePreview() {
  var form = document.getElementById('campaign-form');
  var panel = document.getElementById('live-preview');
  if (!form || !panel) return;
  var timer;
  var number = new Intl.NumberFormat('en-US');
  function field(name) { var el = form.elements.namedItem(name); return el ? el.value : ''; }
  function line(text, className) { var p = document.createElement('p'); p.textContent = text; if (className) p.className = className; return p; }
  function show(body) {
    panel.replaceChildren();
    if (body.errors) { body.errors.forEach(function (e) { panel.appendChild(line(e.message, 'error')); }); return; }
    var preview = body.preview;
    panel.appendChild(line('Eligible now: ' + number.format(body.eligible)));
    Object.keys(preview.excluded).forEach(function (reason) { panel.appendChild(line('excluded, ' + reason + ': ' + number.format(preview.excluded[reason]))); });
    panel.appendChild(line(preview.projectedFinish === null ? 'Nobody is left to mail.' :
      number.format(preview.projectedDays) + ' days at this budget, finishing on ' + preview.projectedFinish + ' (UTC)'));
    panel.appendChild(line('Subject: ' + preview.message.subject));
    var pre = document.createElement('pre'); pre.className = 'message'; pre.textContent = preview.message.text; panel.appendChild(pre);
  }
  function refresh() {
    var startsAt = field('startsAt');
    var body = { name: field('name') || 'preview', segment: field('segment'), perDay: field('perDay'), schedule: field('schedule'),
      template: field('template'), dryRun: true,
      allowExternalLinks: form.elements.namedItem('allowExternalLinks').checked, ignoreCooldown: form.elements.namedItem('ignoreCooldown').checked };
    if (startsAt) body.startsAt = /[zZ]|[+-]\\d\\d:?\\d\\d$/.test(startsAt) ? startsAt : startsAt + 'Z';
    fetch('/admin/api/campaigns', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin' })
      .then(function (response) { return response.json(); })
      .then(show)
      .catch(function () { panel.replaceChildren(line('The preview could not be loaded; use the Preview button.', 'error')); });
  }
  form.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(refresh, 400); });
})();
`;

/** Serves /admin/assets/console.css and /admin/assets/console.js (behind the admin guard like everything under /admin). */
export function registerConsoleAssets(server: FastifyInstance): void {
  server.get('/admin/assets/console.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(CSS));
  server.get('/admin/assets/console.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(SCRIPT));
}
