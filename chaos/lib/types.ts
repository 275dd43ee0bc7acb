import type { QueueBackendKind } from '../../src/queue/backend.js';

/**
 * One scenario's figures: a row of bench/RELIABILITY.md. "lost" and "doubled"
 * are counted against what the database and the local SES store must hold;
 * `null` means the figure does not apply to the scenario.
 */
export interface ScenarioRow {
  scenario: string;
  /** What was done to the system, e.g. "10 × SIGKILL of the worker". */
  faults: string;
  /** Messages sent, or webhook bodies posted. */
  messages: number;
  lost: number | null;
  /** People in the accept-before-record window whom SES never got a message for (not retried by design). */
  windowNotMailed?: number;
  doubled: number | null;
  /** HTTP 5xx answers other than the documented webhook 503. */
  http5xx: number | null;
  /** Highest resident memory of any reverify process the scenario ran. */
  peakMemoryMb: number | null;
  pass: boolean;
  /** Ran to the end (false: a piece it needs is missing; `notes` says which). */
  ran: boolean;
  seconds: number;
  notes: string[];
}

/** Size knobs: --short runs a reduced version for CI. */
export interface ScenarioContext {
  readonly short: boolean;
  /** --send-events: SES_SEND_EVENTS=true with Send events published (scenarios that support it). */
  readonly sendEvents: boolean;
  /** Prints a progress line on stderr, prefixed with the scenario's name. */
  log(message: string): void;
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  /** Queue backends the scenario runs on (CHAOS_QUEUE_BACKEND / --backend); Redis only when absent. */
  readonly backends?: readonly QueueBackendKind[];
  /** Also runs with --send-events, as its own row "<name> + Send events". */
  readonly sendEvents?: boolean;
  run(ctx: ScenarioContext): Promise<Omit<ScenarioRow, 'scenario' | 'seconds'>>;
}

/** A scenario that could not run because a piece of reverify it needs is missing. */
export class MissingPieceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingPieceError';
  }
}
