import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { QueueBackendKind } from '../src/queue/backend.js';
import { chaosQueueBackend } from './lib/backend.js';
import { formatLine, writeReliabilityReport } from './lib/report.js';
import { MissingPieceError, type Scenario, type ScenarioRow } from './lib/types.js';
import { scenarios } from './scenarios/index.js';

/**
 * `npm run chaos [-- --short] [--backend redis|postgres] [--send-events] [scenario …]`: runs the reliability scenarios one
 * after another (they start real processes, so never in parallel on two
 * cores), prints a line of figures per scenario and writes
 * bench/RELIABILITY.md. Scenarios named on the command line run alone; the
 * other rows of the table are kept from the last run, marked with its date.
 * Exit 0 only when every scenario that ran passed. `--backend postgres` (or
 * CHAOS_QUEUE_BACKEND=postgres) puts the queues on BullMQ's PostgreSQL
 * backend and runs the scenarios that support it; their rows are named
 * "<scenario> (postgres)" and kept beside the Redis rows. `--send-events`
 * runs the scenarios that support it with SES Send events on
 * (SES_SEND_EVENTS=true); their rows are "<scenario> + Send events".
 */

const REPORT = fileURLToPath(new URL('../bench/RELIABILITY.md', import.meta.url));
const STATE = fileURLToPath(new URL('../bench/reliability.json', import.meta.url));

interface SavedRow extends ScenarioRow {
  at: string;
  short: boolean;
}

async function main(argv: string[]): Promise<number> {
  const short = argv.includes('--short');
  const sendEvents = argv.includes('--send-events');
  const backendAt = argv.findIndex((arg) => arg === '--backend' || arg.startsWith('--backend='));
  if (backendAt >= 0) process.env.CHAOS_QUEUE_BACKEND = argv[backendAt]!.includes('=') ? argv[backendAt]!.split('=')[1] : argv[backendAt + 1];
  const backend = chaosQueueBackend();
  const names = argv.filter((arg, at) => !arg.startsWith('--') && !(backendAt >= 0 && at === backendAt + 1 && argv[backendAt] === '--backend'));
  const unknown = names.filter((name) => !scenarios.some((scenario) => scenario.name === name));
  if (unknown.length > 0) {
    console.error(`unknown scenario ${unknown.join(', ')}; available: ${scenarios.map((s) => s.name).join(', ')}`);
    return 2;
  }
  const unsupported = names.filter((name) => !runsOn(scenarios.find((scenario) => scenario.name === name)!, backend));
  if (unsupported.length > 0) {
    console.error(`${unsupported.join(', ')} do(es) not run on the ${backend} queue backend; on it: ${scenarios.filter((s) => runsOn(s, backend)).map((s) => s.name).join(', ')}`);
    return 2;
  }
  // --report-only rewrites bench/RELIABILITY.md from the saved figures without running anything.
  const reportOnly = argv.includes('--report-only');
  const selected = reportOnly
    ? []
    : (names.length > 0 ? scenarios.filter((scenario) => names.includes(scenario.name)) : scenarios).filter((scenario) => runsOn(scenario, backend) && (!sendEvents || scenario.sendEvents));
  const started = Date.now();
  const ran: SavedRow[] = [];
  for (const scenario of selected) {
    const row = { ...(await runScenario(scenario, short, sendEvents)), scenario: rowName(scenario.name, backend, sendEvents) };
    console.log(formatLine(row));
    for (const note of row.notes) console.log(`         ${note}`);
    ran.push({ ...row, at: new Date().toISOString(), short });
  }

  const previous = await readSaved();
  const rows: ScenarioRow[] = [];
  const notRun: string[] = [];
  for (const scenario of scenarios) {
    const variants = BACKENDS.filter((each) => runsOn(scenario, each)).flatMap((kind) => [
      { kind, events: false },
      ...(scenario.sendEvents ? [{ kind, events: true }] : []),
    ]);
    for (const { kind, events } of variants) {
      const name = rowName(scenario.name, kind, events);
      const fresh = ran.find((row) => row.scenario === name);
      if (fresh) {
        rows.push(fresh);
        continue;
      }
      const old = previous.find((row) => row.scenario === name);
      if (old) rows.push({ ...old, notes: [`(figures from an earlier run, ${old.at.slice(0, 16)} UTC${old.short ? ', --short' : ''})`, ...old.notes] });
      else notRun.push(`${name}: ${scenario.title}`);
    }
  }
  const saved = [...ran, ...previous.filter((row) => !ran.some((fresh) => fresh.scenario === row.scenario))];
  await writeFile(STATE, `${JSON.stringify(saved, null, 2)}\n`, 'utf8');
  await writeReliabilityReport(REPORT, rows, { short, totalSeconds: (Date.now() - started) / 1000, notRun });
  console.log(`\nwrote ${REPORT}`);
  return rows.every((row) => row.ran && row.pass) ? 0 : 1;
}

const BACKENDS: readonly QueueBackendKind[] = ['redis', 'postgres'];

function runsOn(scenario: Scenario, backend: QueueBackendKind): boolean {
  return (scenario.backends ?? ['redis']).includes(backend);
}

/** The table row of a scenario: its name on Redis, "<name> (postgres)" on PostgreSQL, "… + Send events" with them on. */
function rowName(name: string, backend: QueueBackendKind, sendEvents = false): string {
  return `${backend === 'redis' ? name : `${name} (postgres)`}${sendEvents ? ' + Send events' : ''}`;
}

async function runScenario(scenario: Scenario, short: boolean, sendEvents: boolean): Promise<ScenarioRow> {
  const started = Date.now();
  const log = (message: string) => console.error(`[chaos:${scenario.name}] ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s  ${message}`);
  log(`${scenario.title}${short ? ' (--short)' : ''}; queues on ${chaosQueueBackend()}`);
  try {
    const row = await scenario.run({ short, sendEvents, log });
    return { scenario: scenario.name, seconds: (Date.now() - started) / 1000, ...row };
  } catch (error) {
    const missing = error instanceof MissingPieceError;
    const message = error instanceof Error ? error.message : String(error);
    log(`${missing ? 'could not run' : 'failed'}: ${message}`);
    return {
      scenario: scenario.name,
      faults: '—',
      messages: 0,
      lost: null,
      doubled: null,
      http5xx: null,
      peakMemoryMb: null,
      pass: false,
      ran: !missing,
      seconds: (Date.now() - started) / 1000,
      notes: [`${missing ? 'Could not run' : 'Failed with an error'}: ${message.split('\n').slice(0, 6).join(' / ')}`],
    };
  }
}

async function readSaved(): Promise<SavedRow[]> {
  try {
    return JSON.parse(await readFile(STATE, 'utf8')) as SavedRow[];
  } catch {
    return [];
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
