import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import type { ScenarioRow } from './types.js';

const cell = (value: number | null) => (value === null ? '—' : String(value));

/** One line per scenario for the terminal. */
export function formatLine(row: ScenarioRow): string {
  const verdict = !row.ran ? 'NOT RUN' : row.pass ? 'pass' : 'FAIL';
  return (
    `[chaos] ${row.scenario.padEnd(22)} ${verdict.padEnd(7)} faults: ${row.faults}; messages ${row.messages}, lost ${cell(row.lost)}, ` +
    `doubled ${cell(row.doubled)}, 5xx ${cell(row.http5xx)}, peak ${row.peakMemoryMb === null ? '—' : `${row.peakMemoryMb.toFixed(0)} MB`}, ${row.seconds.toFixed(0)} s`
  );
}

/** Writes bench/RELIABILITY.md: the table, the machine and date, and every note. */
export async function writeReliabilityReport(path: string, rows: readonly ScenarioRow[], options: { short: boolean; totalSeconds: number; notRun: string[] }): Promise<void> {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    '# Reliability',
    '',
    'Written by `npm run chaos` (chaos/run.ts): each scenario starts real `reverify` processes on a scratch database',
    '(`rv_chaos_<scenario>`) and its own queue prefix (`{rv-chaos-<scenario>}`), injures them, then checks the database',
    'and the local SES store (aws-ses-v2-local, behind a fault-injecting proxy) against what must hold. Rows named',
    '"<scenario> (postgres)" ran with the queues on BullMQ\'s PostgreSQL backend (`npm run chaos -- --backend postgres …`,',
    'QUEUE_BACKEND=postgres: schema `bullmq_rv_chaos_<scenario>` in the scratch database); the others on Redis.',
    '',
    `Machine: ${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}. ` +
      `Last invocation${options.totalSeconds < 1 ? ' (report rewritten, nothing run)' : ''}: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${options.short ? '`--short` (reduced sizes, for CI)' : 'full size'}, ${Math.round(options.totalSeconds)} s. ` +
      `Rows not run by it keep their earlier figures and say when they were taken. All scenarios together take ${Math.round(rows.reduce((sum, row) => sum + row.seconds, 0))} s of scenario time.`,
    '',
    ...(rows.some((row) => !row.pass)
      ? [
          'Does not hold yet (details in the notes below):',
          '',
          ...rows.filter((row) => !row.pass).map((row) => `- **${row.scenario}**: ${row.ran ? 'ran and failed' : 'could not run'} — ${[...row.notes].reverse().find((note) => /were not|DIFFERS|EXITED|ABOVE|Failed|Could not|NOT flat|with the database up: [1-9]/.test(note)) ?? row.notes.at(-1) ?? ''}`),
          '',
        ]
      : ['Every scenario holds.', '']),
    '| scenario | result | faults injected | messages | lost | doubled | 5xx | peak memory | time |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.scenario} | ${!row.ran ? 'not run' : row.pass ? 'pass' : '**FAIL**'} | ${row.faults} | ${row.messages} | ${cell(row.lost)}${row.windowNotMailed ? ` (+${row.windowNotMailed} in the window, not mailed)` : ''} | ${cell(row.doubled)} | ${cell(row.http5xx)} | ${row.peakMemoryMb === null ? '—' : `${row.peakMemoryMb.toFixed(0)} MB`} | ${row.seconds.toFixed(0)} s |`,
    ),
    '',
    '"lost": an eligible person (or a valid webhook message) that the end state does not account for; "(+N in the window, not',
    'mailed)": rows the ledger marks as caught in the accept-before-record window (failed, unknown_outcome_after_crash, never',
    'resent by design) for which SES holds no message, so those people were not mailed. "doubled": a person with',
    'more than one message in the SES store outside the accept-before-record window. "5xx": answers of 500 and above other',
    'than the documented webhook 503. "peak memory": the highest resident set size of any reverify process of the scenario.',
    '',
    'Send rate: the send queue\'s limiter lets one job (about 100 ms of rows) out per window (src/pace/pace.ts sendLimiter),',
    'and the send gate in the queue store gives every SendEmail its own time, 1.03/SES_MAX_SEND_RATE apart across all workers; a send',
    'more than 10 ms past its time takes a new one (src/pace/send-gate.ts). The scenarios that judge the rate check the',
    'strict reading: at most T × SES_MAX_SEND_RATE messages arriving at SES (and accepted) in every sliding window of',
    'T = 1, 2, 5, 10 s.',
    '',
    '## Notes per scenario',
    '',
    ...rows.flatMap((row) => [`### ${row.scenario}`, '', ...(row.notes.length > 0 ? row.notes.map((note) => `- ${note}`) : ['- (none)']), '']),
  ];
  lines.push(
    '## Found by this suite on 2026-11-24, no longer seen in later runs the same day',
    '',
    '- db-outage: a worker exited (unhandled `error` event of a checked-out pg client, 57P01) when its backend was',
    '  terminated between two statements of a transaction; fixed in `src/db/connect.ts` (an error listener on every client).',
    '- hostile-webhook: a genuine, signed notification with a NUL byte in an address or in the Message was answered 503',
    '  ("database unavailable") because PostgreSQL refuses NUL in text and jsonb, so SNS would have retried it forever.',
    '- duplicates (--short, twice): soft-bounce counts depended on arrival order (a Delivery reset the count as it',
    '  arrived); the later short and full runs ended in the once-in-order state.',
    '',
    '## What this suite does not do',
    '',
    '- It never restarts the PostgreSQL server (other people share it): the database outage is this scenario\'s database',
    '  refusing new connections (`ALTER DATABASE … ALLOW_CONNECTIONS false`) with every backend terminated',
    '  (`pg_terminate_backend`) for a while. A real restart also drops the postmaster\'s listen socket; not exercised.',
    '- "FLUSHALL" is the deletion of every key under the scenario\'s queue prefix (other people share this Redis).',
    '- The SES proxy injures requests before they reach SES. A reply lost after SES accepted a message (the other side of',
    '  the accept-before-record window) is produced only by SIGKILL and the database outage, not by the proxy.',
    '- Timeouts are the proxy holding a request 15 s and then dropping it: the SES client sets no request timeout of its',
    '  own (`src/mail/ses-client.ts` passes no `requestHandler` timeouts), so a silent SES would hold a send slot forever.',
    '',
  );
  if (options.notRun.length > 0) {
    lines.push('## Not run in this invocation', '', ...options.notRun.map((name) => `- ${name}`), '');
  }
  await writeFile(path, `${lines.join('\n')}\n`, 'utf8');
}
