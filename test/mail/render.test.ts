import { describe, expect, it } from 'vitest';
import { findExternalLinks } from '../../src/mail/link-lint.js';
import {
  describeProjects,
  formatUtc,
  listTemplates,
  renderTemplate,
  renderTemplateSource,
  siteNameFromBaseUrl,
  type TemplateContext,
} from '../../src/mail/render.js';

// Pure rendering: no database or Redis, so no useTestEnv().

const baseUrl = 'https://pypi.example.org';
const context: TemplateContext = {
  username: 'ada',
  email: 'ada@mail.example.com',
  verifyUrl: `${baseUrl}/verify/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde`,
  stopUrl: `${baseUrl}/stop/ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210-_zyxwv`,
  siteName: 'PyPI',
  baseUrl,
  expiresAt: new Date('2026-12-01T11:26:00Z'),
  projects: ['requests', 'urllib3'],
};

describe('renderTemplate', () => {
  it('lists the default template', () => {
    expect(listTemplates()).toContain('reverify-email');
  });

  it('renders a subject, a plain-text part and an HTML part', () => {
    const message = renderTemplate('reverify-email', context);
    expect(message.subject).toBe('Please confirm your email address on PyPI');
    expect(message.text).not.toMatch(/<[a-z]/i);
    expect(message.html).toMatch(/^<!DOCTYPE html>/);
    for (const part of [message.text, message.html]) {
      expect(part).toContain(context.verifyUrl);
      expect(part).toContain(context.stopUrl);
      expect(part).toContain('ada@mail.example.com');
      expect(part).toContain('requests');
      expect(part).toContain('urllib3');
    }
  });

  it('says why it comes, what happens without verification, how to tell it is genuine and when the link expires', () => {
    const { text, html } = renderTemplate('reverify-email', context);
    for (const part of [text, html]) {
      expect(part).toMatch(/holds a role on the projects requests and urllib3/);
      expect(part).toMatch(/has never been verified/);
      expect(part).toMatch(/will stop sending email to addresses that have not been verified/);
      expect(part).toMatch(/Your account keeps working/);
      expect(part).toMatch(/no attachments/);
      expect(part).toMatch(/never ask for your password/);
      expect(part).toMatch(/The only links in it go to pypi\.example\.org/);
      expect(part).toMatch(/request a new verification link from your account settings/);
      expect(part).toContain('Tuesday, 1 December 2026 at 11:26 UTC');
    }
  });

  it('carries no link but the verification URL and the stop URL, untouched', () => {
    const message = renderTemplate('reverify-email', context);
    expect(findExternalLinks(message, baseUrl)).toEqual([]);
    const hrefs = [...message.html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]);
    expect(hrefs).toEqual([context.verifyUrl, context.stopUrl]);
  });

  it('escapes a hostile username in the HTML part and leaves the text part literal', () => {
    const hostile = { ...context, username: '<script>alert("x")</script>\'"', projects: ['<img src=x onerror=alert(1)>'] };
    const { text, html, subject } = renderTemplate('reverify-email', hostile);
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#x27;&quot;');
    expect(text).toContain('<script>alert("x")</script>\'"');
    expect(text).not.toContain('&lt;');
    expect(text).not.toContain('&quot;');
    expect(subject).toBe('Please confirm your email address on PyPI');
    expect(findExternalLinks({ text, html, subject }, baseUrl)).toEqual([]);
  });

  it('cannot be made to forge lines or reverse text with a crafted name', () => {
    const crafted = { ...context, username: 'ada\n\nClick https://evil.example.net now', siteName: 'Py\u202ePI\r\n' };
    const { text, subject } = renderTemplate('reverify-email', crafted);
    expect(text).toContain('Hello ada Click https://evil.example.net now,');
    expect(subject).toBe('Please confirm your email address on Py PI');
  });

  it('refuses an unknown template with the list of known ones', () => {
    expect(() => renderTemplate('reverify-emial', context)).toThrow(/unknown mail template "reverify-emial": known templates are "reverify-email"/);
  });

  it('fails loudly when a template names a variable that does not exist', () => {
    const source = { subject: 'Hi {{usernme}}', text: 'x', html: 'x' };
    expect(() => renderTemplateSource(source, context)).toThrow(/usernme/);
  });
});

describe('template helpers', () => {
  it('name a few projects and count the rest', () => {
    expect(describeProjects([])).toBe('a project');
    expect(describeProjects(['a'])).toBe('the project a');
    expect(describeProjects(['a', 'b', 'c'])).toBe('the projects a, b and c');
    expect(describeProjects(['a', 'b', 'c', 'd', 'e', 'f', 'g'])).toBe('the projects a, b, c, d, e and 2 more');
  });

  it('write an expiry to the minute, in UTC, and never reuse another minute’s text', () => {
    expect(formatUtc(new Date('2026-12-01T11:26:00Z'))).toBe('Tuesday, 1 December 2026 at 11:26 UTC');
    // The same minute, later in it: the same text (the format drops seconds).
    expect(formatUtc(new Date('2026-12-01T11:26:59.999Z'))).toBe('Tuesday, 1 December 2026 at 11:26 UTC');
    expect(formatUtc(new Date('2026-12-01T11:27:00Z'))).toBe('Tuesday, 1 December 2026 at 11:27 UTC');
    expect(formatUtc(new Date('2026-12-02T11:27:00Z'))).toBe('Wednesday, 2 December 2026 at 11:27 UTC');
    expect(formatUtc(new Date('2026-12-01T11:26:30Z'))).toBe('Tuesday, 1 December 2026 at 11:26 UTC');
  });

  it('derive a site name from the base URL', () => {
    expect(siteNameFromBaseUrl('https://www.example.org:8443/app')).toBe('www.example.org');
  });
});
