import type { SweepOverview } from '../../accounts/sweep-overview.js';
import { renderPage, views } from './layout.js';

/** The sweeps page: next run, what falls due in the next days, recent runs. */

const body = views.compile(
  `<section class="card">
  <h2>Sweeps of temporary accounts</h2>
  <p>Next scheduled run: <b data-field="next-run">{{utc o.nextRun}}</b> (schedule <code>{{o.schedule}}</code>, UTC; reminders and expiry both run on it).</p>
</section>
<section class="card">
  <h3>Due in the next {{o.due.length}} days</h3>
  <table>
    <tr><th>UTC day</th><th class="n">accounts expiring</th><th class="n">reminders due</th></tr>
    {{#each o.due}}<tr data-day="{{day}}"><td>{{day}}{{#if @first}} (today, with anything overdue){{/if}}</td><td class="n" data-field="expiring">{{num expiring}}</td><td class="n" data-field="reminders">{{num reminders}}</td></tr>{{/each}}
  </table>
</section>
<section class="card">
  <h3>Recent runs</h3>
  <table>
    <tr><th>Run</th><th>Kind</th><th>As of</th><th>Started</th><th>Finished</th><th>Outcome</th><th class="n">Processed</th><th class="n">Sessions revoked</th><th class="n">Tokens revoked</th><th class="n">Batches</th><th class="n">Longest batch</th></tr>
    {{#each o.runs}}<tr data-run="{{id}}"><td>#{{id}}{{#if dryRun}} (dry run){{/if}}</td><td>{{kind}}</td><td>{{utc asOf}}</td><td>{{utc startedAt}}</td><td>{{utc finishedAt}}</td>
      <td>{{outcome}}{{#if error}}: {{error}}{{/if}}</td><td class="n">{{num processed}}</td><td class="n">{{num sessionsRevoked}}</td><td class="n">{{num tokensRevoked}}</td><td class="n">{{num batches}}</td><td class="n">{{num longestBatchMs}} ms</td></tr>
    {{else}}<tr><td colspan="11">No sweep has run yet.</td></tr>{{/each}}
  </table>
</section>`,
  { strict: true },
);

/** Renders the sweeps page. */
export function renderSweepsPage(overview: SweepOverview): string {
  return renderPage({ title: 'Sweeps', section: 'sweeps', refreshSeconds: 60 }, body({ o: overview }));
}
