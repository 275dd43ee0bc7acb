import type { AddressReport } from '../../addresses/address-report.js';
import { renderPage, views } from './layout.js';

/** The address lookup page: the search box and, for an address, its state and history. */

const body = views.compile(
  `<section class="card search">
  <form method="get" action="/admin/addresses"><label for="q">Address</label>
    <input id="q" name="q" type="search" value="{{q}}" placeholder="someone@example.org" autofocus> <button type="submit">Look up</button></form>
</section>
{{#if report}}
<section class="card" id="address">
  <h2>{{report.address}}</h2>
  {{#if report.state}}
  <table>
    <tr><th>User</th><td data-field="user">#{{report.state.userId}} {{report.state.username}}{{#unless report.state.userActive}} (inactive){{/unless}}{{#if report.state.userTemporary}} (temporary{{#if report.state.userExpiredAt}}, expired {{utc report.state.userExpiredAt}}{{/if}}){{/if}}</td></tr>
    <tr><th>Address</th><td>{{report.state.email}}{{#if report.state.isPrimary}} (primary){{else}} (secondary){{/if}}</td></tr>
    <tr><th>State</th><td data-field="state">{{#if report.state.verified}}verified{{#if report.state.verifiedAt}} since {{utc report.state.verifiedAt}}{{/if}}{{else}}unverified{{/if}}</td></tr>
    <tr><th>Unverify reason</th><td data-field="unverify-reason">{{#if report.state.unverifyReason}}{{report.state.unverifyReason}}{{else}}none{{/if}}</td></tr>
    <tr><th>Soft bounces</th><td data-field="soft-bounces">{{num report.state.softBounces}}</td></tr>
    <tr><th>Suppression</th><td data-field="suppression">{{#if report.suppression}}{{report.suppression.reason}} since {{utc report.suppression.since}}{{else}}not suppressed{{/if}}</td></tr>
  </table>
  {{else}}
  <p class="empty" data-field="user">No account has this address.</p>
  <p data-field="suppression">Suppression: {{#if report.suppression}}{{report.suppression.reason}} since {{utc report.suppression.since}}{{else}}not suppressed{{/if}}</p>
  {{/if}}
</section>
<section class="card history">
  <h3>History (oldest first)</h3>
  <table>
    <tr><th>When (UTC)</th><th>What</th><th>Details</th></tr>
    {{#each report.history}}<tr data-kind="{{kind}}"><td>{{utc at}}</td><td>{{kind}}</td><td>{{summary}}</td></tr>{{else}}<tr><td colspan="3">Nothing recorded.</td></tr>{{/each}}
  </table>
  <p><a href="/admin/addresses?q={{report.address}}&amp;format=json">JSON</a> · the same as <code>reverify address show {{report.address}} --json</code></p>
</section>
{{/if}}`,
  { strict: true },
);

/** Renders the lookup page; `report` is undefined before a search. */
export function renderAddressPage(q: string, report: AddressReport | undefined): string {
  return renderPage({ title: report ? `Address ${report.address}` : 'Address lookup', section: 'addresses' }, body({ q, report: report ?? null }));
}
