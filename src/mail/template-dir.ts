import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config.js';
import { findExternalLinks } from './link-lint.js';
import { renderTemplateSource, sampleTemplateContext, type RenderedMessage } from './render.js';
import type { TemplateSource } from './templates/types.js';

/**
 * Operators' templates (TEMPLATES_DIR): each template is three files,
 * `<name>.subject.hbs`, `<name>.text.hbs` and `<name>.html.hbs`, rendered
 * with the same variables and the same escaping as the built-in ones
 * (src/mail/render.ts; the stop link is `{{stopUrl}}`). They are read once,
 * at start, and every file is checked then: it compiles, names no variable
 * that does not exist, and links nowhere but the verification and stop links
 * (src/mail/link-lint.ts). Every problem is reported with its file and line,
 * all at once, and reverify does not start until they are fixed.
 */

const PARTS = ['subject', 'text', 'html'] as const;
type Part = (typeof PARTS)[number];
const TEMPLATE_FILE = /^([a-z0-9][a-z0-9_-]*)\.(subject|text|html)\.hbs$/;

/** TEMPLATES_DIR holds templates that cannot be used: every problem with its file and line. */
export class TemplateDirError extends ConfigError {
  constructor(dir: string, problems: string[]) {
    super(problems);
    this.message = `reverify cannot start: fix these templates in TEMPLATES_DIR (${dir}):\n${problems.map((p) => `  - ${p}`).join('\n')}`;
    this.name = 'TemplateDirError';
  }
}

/** Reads and checks every template in `dir`; throws TemplateDirError naming each problem. */
export function loadTemplateDir(dir: string, baseUrl: string): Record<string, TemplateSource> {
  const problems: string[] = [];
  const byName = new Map<string, Partial<Record<Part, string>>>();
  for (const file of listFiles(dir)) {
    const match = TEMPLATE_FILE.exec(file);
    if (!match) {
      if (file.endsWith('.hbs')) problems.push(`${path.join(dir, file)}: not a template file name; use <name>.subject.hbs, <name>.text.hbs and <name>.html.hbs (name: a-z, 0-9, - and _)`);
      continue;
    }
    const [, name, part] = match as unknown as [string, string, Part];
    byName.set(name, { ...byName.get(name), [part]: path.join(dir, file) });
  }
  const loaded: Record<string, TemplateSource> = {};
  for (const [name, files] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
    const missing = PARTS.filter((part) => files[part] === undefined);
    if (missing.length > 0) {
      problems.push(`template "${name}" is missing ${missing.map((part) => path.join(dir, `${name}.${part}.hbs`)).join(' and ')}: a template is three files`);
      continue;
    }
    const complete = files as Record<Part, string>;
    const source: TemplateSource = {
      subject: readFileSync(complete.subject, 'utf8'),
      text: readFileSync(complete.text, 'utf8'),
      html: readFileSync(complete.html, 'utf8'),
      files: complete,
    };
    const found = checkTemplate(source, baseUrl);
    if (found.length > 0) problems.push(...found);
    else loaded[name] = source;
  }
  if (problems.length > 0) throw new TemplateDirError(dir, problems);
  return loaded;
}

function listFiles(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (error) {
    throw new TemplateDirError(dir, [`cannot read the folder: ${(error as Error).message}`]);
  }
}

/** Every problem of one template, part by part: "file:line: what is wrong". */
function checkTemplate(source: TemplateSource, baseUrl: string): string[] {
  const problems: string[] = [];
  const context = sampleTemplateContext(baseUrl, new Date());
  for (const part of PARTS) {
    const file = source.files?.[part] ?? part;
    // Each part alone, so an error belongs to its file.
    const alone: TemplateSource = { subject: '', text: '', html: '', [part]: source[part] };
    let rendered: RenderedMessage;
    try {
      rendered = renderTemplateSource(alone, context);
    } catch (error) {
      problems.push(describeCompileError(file, error));
      continue;
    }
    for (const link of findExternalLinks(rendered, baseUrl)) problems.push(`${locate(file, source[part], link)}: links outside PUBLIC_BASE_URL's verification and stop links: ${link}`);
  }
  return problems;
}

/** Handlebars says "Parse error on line 3: …" or `"x" not defined in [object Object] - 3:14`: the line goes first. */
function describeCompileError(file: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = /on line (\d+)/.exec(message)?.[1] ?? / - (\d+):\d+$/m.exec(message)?.[1];
  const firstLine = message.split('\n')[0] ?? message;
  const what = firstLine.replace(/ in \[object Object\]/, '').replace(/ - \d+:\d+$/, '');
  const hint = /not defined/.test(message) ? ' (variables: username, email, verifyUrl, stopUrl, siteName, baseUrl, host, expiresAt, expiresAtText, projects, projectsText)' : '';
  // A parse error's last line says what was expected; the lines between quote the source.
  const parse = /^Parse error/.test(firstLine) ? `Parse error: ${message.trim().split('\n').pop() ?? ''}` : undefined;
  return `${file}${line ? `:${line}` : ''}: ${parse ?? what}${hint}`;
}

/** "file:line" of the first line of `text` that holds `link` as written (or its host); the file alone when a variable made it. */
export function locate(file: string, text: string, link: string): string {
  const lines = text.split('\n');
  let host = '';
  try {
    host = new URL(link).host;
  } catch {
    host = '';
  }
  const index = lines.findIndex((line) => line.includes(link) || (host !== '' && line.includes(host)));
  return index === -1 ? file : `${file}:${index + 1}`;
}

/** For an operator's template, "file:line" of each external link; empty for a built-in one. */
export function linkLocations(source: TemplateSource | undefined, links: readonly string[]): string[] {
  const files = source?.files;
  if (!source || !files) return [];
  return links.map((link) => {
    for (const part of PARTS) {
      const where = locate(files[part], source[part], link);
      if (where !== files[part]) return `${where}: ${link}`;
    }
    return `${files.html}: ${link}`;
  });
}
