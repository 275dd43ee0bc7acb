import { addressReport, type AddressReport } from '../../addresses/address-report.js';
import { createApp } from '../../app/app.js';
import { loadConfig } from '../../config.js';
import { parseFlags, printResult, UsageError, type Command } from './command.js';

export const addressCommand: Command = {
  name: 'address',
  summary: "show an address's state and history: why it is what it is",
  help: `
Usage: reverify address show ADDRESS [--json]

Shows the address's user, whether it is verified (and why not), its
suppression, its soft-bounce count and its history in time order (UTC): SES
events with their types and diagnostic codes, campaign messages, verification
tokens issued and used, and audit rows. The address is matched without regard
to case. The console shows the same at /admin/addresses?q=ADDRESS.

--json prints {"address", "state": {...} | null, "suppression": {...} | null,
"history": [{"at", "kind", "summary", "details"}]}.`,
  async run(argv) {
    const [action, ...rest] = argv;
    if (action !== 'show') throw new UsageError(`${action === undefined ? 'say what to do' : `unknown action "${action}"`}: reverify address show ADDRESS`);
    const { values, positionals } = parseFlags('address show', rest, {}, true);
    const [address, ...extra] = positionals;
    if (address === undefined || !address.includes('@')) throw new UsageError('"address show" needs an email address, e.g. reverify address show someone@example.org');
    if (extra.length > 0) throw new UsageError(`"address show" takes one address, got "${positionals.join(' ')}"`);
    const app = createApp(loadConfig());
    try {
      const report = await addressReport(app.db, address);
      printResult(values.json, report, () => describeAddress(report));
      return 0;
    } finally {
      await app.close();
    }
  },
};

/** The report as lines a person reads. */
export function describeAddress(report: AddressReport): string {
  const { state, suppression } = report;
  const lines = [`Address ${report.address}`];
  if (state) {
    lines.push(
      `  user #${state.userId} ${state.username}${state.userActive ? '' : ' (inactive)'}${state.userTemporary ? ' (temporary)' : ''}, ${state.isPrimary ? 'primary' : 'secondary'} address`,
      `  ${state.verified ? `verified${state.verifiedAt ? ` since ${state.verifiedAt}` : ''}` : 'unverified'}; unverify reason: ${state.unverifyReason ?? 'none'}; soft bounces: ${state.softBounces}`,
    );
  } else {
    lines.push('  no account has this address');
  }
  lines.push(`  suppression: ${suppression ? `${suppression.reason} since ${suppression.since}` : 'not suppressed'}`, 'History (UTC, oldest first):');
  if (report.history.length === 0) lines.push('  nothing recorded');
  for (const entry of report.history) lines.push(`  ${entry.at}  ${entry.kind.padEnd(16)} ${entry.summary}`);
  return lines.join('\n');
}
