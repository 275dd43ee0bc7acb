import Handlebars from 'handlebars';
import { templates, type TemplateSource } from './templates/index.js';

/**
 * Renders mail templates with Handlebars. The HTML part is escaped by the
 * engine (never by hand); the subject and text parts are not HTML and are
 * rendered without escaping. Templates are compiled in strict mode, so a
 * template naming a variable that does not exist fails loudly instead of
 * sending a message with a hole in it.
 */

/** What a template is rendered with. */
export interface TemplateContext {
  username: string;
  /** The address being confirmed. */
  email: string;
  /** The verification link, `${PUBLIC_BASE_URL}/verify/<token>`: with stopUrl, the only links a message may carry. */
  verifyUrl: string;
  /** The stop link, `${PUBLIC_BASE_URL}/stop/<token>`: "this is not me / stop these messages" (also the List-Unsubscribe header). */
  stopUrl: string;
  /** Human name of the site, e.g. "PyPI". */
  siteName: string;
  /** PUBLIC_BASE_URL. */
  baseUrl: string;
  expiresAt: Date;
  /** Projects the user holds a role on. */
  projects: string[];
  /** The Reply-To address when replying confirms the address (REPLY_DOMAIN set); templates then say so. */
  replyAddress?: string;
}

/** A rendered message: every message has a subject, a plain-text part and an HTML part. */
export interface RenderedMessage {
  subject: string;
  text: string;
  html: string;
}

export class UnknownTemplateError extends Error {
  constructor(readonly templateName: string) {
    super(`unknown mail template "${templateName}": known templates are ${listTemplates().map((n) => `"${n}"`).join(', ')}`);
    this.name = 'UnknownTemplateError';
  }
}

// A private Handlebars environment: nothing registered elsewhere leaks in.
const handlebars = Handlebars.create();

interface Compiled {
  subject: HandlebarsTemplateDelegate;
  text: HandlebarsTemplateDelegate;
  html: HandlebarsTemplateDelegate;
}

const compiledByName = new Map<string, Compiled>();

/** The operator's templates (TEMPLATES_DIR, see ./template-dir.ts): a name here replaces a built-in one. */
let operatorTemplates: Readonly<Record<string, TemplateSource>> = {};

/** Makes the operator's templates renderable (loaded once at start); replaces any registered before. */
export function registerOperatorTemplates(loaded: Readonly<Record<string, TemplateSource>>): void {
  operatorTemplates = loaded;
  compiledByName.clear();
}

/** Names of the templates that can be rendered: the built-in ones and the operator's. */
export function listTemplates(): string[] {
  return [...new Set([...Object.keys(templates), ...Object.keys(operatorTemplates)])].sort();
}

/** The source of template `name`, the operator's first; undefined for an unknown name. */
export function templateSource(name: string): TemplateSource | undefined {
  if (Object.hasOwn(operatorTemplates, name)) return operatorTemplates[name];
  return Object.hasOwn(templates, name) ? templates[name] : undefined;
}

/** Renders the named template; throws UnknownTemplateError (listing the known ones) for an unknown name. */
export function renderTemplate(name: string, context: TemplateContext): RenderedMessage {
  let compiled = compiledByName.get(name);
  if (!compiled) {
    const source = templateSource(name);
    if (source === undefined) throw new UnknownTemplateError(name);
    compiled = compileSource(source);
    compiledByName.set(name, compiled);
  }
  return renderCompiled(compiled, context);
}

/** Renders template sources that are not registered (previews of a draft template, tests). */
export function renderTemplateSource(source: TemplateSource, context: TemplateContext): RenderedMessage {
  return renderCompiled(compileSource(source), context);
}

function compileSource(source: TemplateSource): Compiled {
  return {
    subject: handlebars.compile(source.subject, { strict: true, noEscape: true }),
    text: handlebars.compile(source.text, { strict: true, noEscape: true }),
    html: handlebars.compile(source.html, { strict: true }),
  };
}

function renderCompiled(compiled: Compiled, context: TemplateContext): RenderedMessage {
  const view = templateView(context);
  return {
    // A subject is one header line: no line breaks, whatever the data says.
    subject: compiled.subject(view).replace(/\s+/g, ' ').trim(),
    text: compiled.text(view),
    html: compiled.html(view),
  };
}

/** The variables templates see: the context with its values made safe to show, plus derived phrases. */
function templateView(context: TemplateContext): Record<string, unknown> {
  return {
    username: plain(context.username),
    email: plain(context.email),
    verifyUrl: context.verifyUrl,
    stopUrl: context.stopUrl,
    siteName: plain(context.siteName),
    baseUrl: context.baseUrl,
    host: parsedBaseUrl(context.baseUrl).host,
    expiresAt: context.expiresAt,
    expiresAtText: formatUtc(context.expiresAt),
    projects: context.projects.map(plain),
    projectsText: describeProjects(context.projects.map(plain)),
    replyToConfirm: context.replyAddress !== undefined,
  };
}

/**
 * Control characters (a newline could forge a line of the text part) and
 * bidirectional overrides (they can make text read differently than it is)
 * have no business in a name shown in mail; they become a space.
 */
function plain(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]+/g, ' ').trim();
}

const MAX_PROJECTS_NAMED = 5;

/** "the project a", "the projects a, b and c", "the projects a, … e and 7 more". */
export function describeProjects(projects: readonly string[]): string {
  if (projects.length === 0) return 'a project';
  if (projects.length === 1) return `the project ${projects[0]}`;
  const named = projects.slice(0, MAX_PROJECTS_NAMED);
  const rest = projects.length - named.length;
  if (rest > 0) return `the projects ${named.join(', ')} and ${rest} more`;
  return `the projects ${named.slice(0, -1).join(', ')} and ${named[named.length - 1]}`;
}

const utcFormat = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', dateStyle: 'full', timeStyle: 'short' });

/**
 * The last minute formatted: Intl formatting is not cheap, and the format
 * shows minutes, so every message whose expiry falls in the same minute (all
 * of a send job's, and those of the jobs running beside it) shares one text.
 */
let lastFormatted: { minute: number; text: string } | undefined;

/** "Tuesday, 1 December 2026 at 11:26 UTC": unambiguous for readers in every time zone. */
export function formatUtc(date: Date): string {
  const minute = Math.floor(date.getTime() / 60_000);
  if (lastFormatted?.minute !== minute) lastFormatted = { minute, text: `${utcFormat.format(date)} UTC` };
  return lastFormatted.text;
}

/**
 * The site's name as mail and pages show it when no other name is configured:
 * PUBLIC_BASE_URL's host name, exactly (a shortened "example.org" for
 * "www.example.org" would be auto-linked by mail clients to another host).
 */
export function siteNameFromBaseUrl(baseUrl: string): string {
  return parsedBaseUrl(baseUrl).hostname;
}

/** The last base URL parsed: asked for twice per message, always the same one; a parse each time showed in send profiles. */
let lastBaseUrl: { text: string; url: URL } | undefined;

function parsedBaseUrl(baseUrl: string): URL {
  if (lastBaseUrl?.text !== baseUrl) lastBaseUrl = { text: baseUrl, url: new URL(baseUrl) };
  return lastBaseUrl.url;
}

/**
 * A neutral context for previews and for linting a template: the real link
 * shape on `baseUrl`, harmless names. Lint the template with this rather than
 * with a recipient's data — a username such as "bob.io" reads as a host name.
 */
export function sampleTemplateContext(baseUrl: string, expiresAt: Date): TemplateContext {
  return {
    username: 'example-user',
    email: 'example-user@mail.example',
    verifyUrl: `${baseUrl.replace(/\/+$/, '')}/verify/${'x'.repeat(43)}`,
    stopUrl: `${baseUrl.replace(/\/+$/, '')}/stop/${'x'.repeat(43)}`,
    siteName: siteNameFromBaseUrl(baseUrl),
    baseUrl,
    expiresAt,
    projects: ['example-project', 'another-project'],
  };
}
