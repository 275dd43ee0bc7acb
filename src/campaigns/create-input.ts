import { listTemplates } from '../mail/render.js';
import { isValidCron } from './budget.js';
import { isSegmentName, SEGMENTS } from './eligibility/segment.js';

/**
 * The rules a new campaign's input must meet, with the messages that say what
 * to fix. `reverify campaign create`, the admin API and the console's form
 * all check input here, so they accept and refuse the same things in the same
 * words; only how a field is named differs (`--per-day` on the command line,
 * `perDay` in JSON and the form).
 */

export const CAMPAIGN_FIELDS = ['name', 'segment', 'perDay', 'schedule', 'template', 'startsAt'] as const;
export type CampaignField = (typeof CAMPAIGN_FIELDS)[number];

/** The input as it arrives: strings from flags and forms, or JSON values. */
export interface RawCampaignInput {
  name?: unknown;
  segment?: unknown;
  perDay?: unknown;
  schedule?: unknown;
  template?: unknown;
  startsAt?: unknown;
}

export interface ValidCampaignInput {
  name: string;
  segment: string;
  perDay: number;
  schedule: string;
  template: string;
  /** Undefined: start now. */
  startsAt: Date | undefined;
}

/** How a surface names its fields in messages. */
export interface FieldNaming {
  field(name: CampaignField): string;
  /** The field given `value`, as the user would type it. */
  example(name: CampaignField, value: string): string;
}

/** The command line's flags: --name, --per-day, --starts-at. */
export const FLAG_NAMING: FieldNaming = {
  field: (name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
  example: (name, value) => `${FLAG_NAMING.field(name)} ${value}`,
};

/** JSON bodies and form fields: name, perDay, startsAt. */
export const JSON_NAMING: FieldNaming = {
  field: (name) => name,
  example: (name, value) => `${name}: ${value}`,
};

export interface CampaignInputProblem {
  field: CampaignField;
  message: string;
}

export const DEFAULT_TEMPLATE = 'reverify-email';

/** Checks every field; returns the valid input or every problem found, in field order. */
export function validateCampaignInput(
  raw: RawCampaignInput,
  naming: FieldNaming,
): { ok: true; input: ValidCampaignInput } | { ok: false; problems: CampaignInputProblem[] } {
  const problems: CampaignInputProblem[] = [];
  const problem = (field: CampaignField, message: string) => problems.push({ field, message });
  const { field, example } = naming;

  const name = text(raw.name)?.trim();
  if (!name) problem('name', `${field('name')} is required: a name operators will recognise, e.g. ${example('name', '"2fa reverify 2026"')}`);
  const segment = text(raw.segment);
  if (segment === undefined) problem('segment', `${field('segment')} is required: one of ${SEGMENTS.join(', ')}`);
  else if (!isSegmentName(segment)) problem('segment', `${field('segment')} must be one of ${SEGMENTS.join(', ')}; got "${segment}"`);
  const perDayText = text(raw.perDay);
  const perDay = perDayText === undefined ? undefined : wholeNumber(perDayText, 1);
  if (perDayText === undefined) {
    problem('perDay', `${field('perDay')} is required: the most messages a UTC day may send, e.g. ${example('perDay', '200')}`);
  } else if (perDay === undefined) {
    problem('perDay', `${field('perDay')} must be a whole number of at least 1, got "${perDayText}"`);
  }
  const schedule = text(raw.schedule);
  if (schedule === undefined) {
    problem('schedule', `${field('schedule')} is required: a cron expression in UTC, e.g. ${example('schedule', '"0 * * * *"')} (hourly)`);
  } else if (!isValidCron(schedule)) {
    problem('schedule', `${field('schedule')} must be a cron expression such as "0 * * * *" (UTC); got "${schedule}"`);
  }
  const template = text(raw.template) ?? DEFAULT_TEMPLATE;
  if (!listTemplates().includes(template)) problem('template', `${field('template')} must be one of ${listTemplates().join(', ')}; got "${template}"`);
  const startsAtText = text(raw.startsAt);
  const startsAt = startsAtText === undefined ? undefined : instant(startsAtText);
  if (startsAtText !== undefined && startsAt === undefined) {
    problem('startsAt', `${field('startsAt')} must be an ISO 8601 instant with a time zone, such as 2026-01-31T03:00:00Z; got "${startsAtText}"`);
  }

  if (problems.length > 0 || !name || segment === undefined || perDay === undefined || schedule === undefined) return { ok: false, problems };
  return { ok: true, input: { name, segment, perDay, schedule, template, startsAt } };
}

/** A string or number as text; empty strings count as absent (an empty form field). */
function text(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  return value;
}

function wholeNumber(value: string, min: number): number | undefined {
  if (!/^-?\d+$/.test(value.trim())) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= min ? n : undefined;
}

function instant(value: string): Date | undefined {
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(value.trim());
  const date = new Date(value);
  return hasZone && !Number.isNaN(date.getTime()) ? date : undefined;
}
