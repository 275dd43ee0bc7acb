import { describe, expect, it } from 'vitest';
import { findExternalLinks } from '../../src/mail/link-lint.js';
import {
  listTemplates,
  renderTemplate,
  renderTemplateSource,
  sampleTemplateContext,
  type TemplateContext,
} from '../../src/mail/render.js';

// Pure logic: no database or Redis, so no useTestEnv().

const baseUrl = 'https://example.org';
const context: TemplateContext = {
  username: 'ada',
  email: 'ada@gmail.example.com',
  verifyUrl: `${baseUrl}/verify/token`,
  stopUrl: `${baseUrl}/stop/token`,
  siteName: 'Example',
  baseUrl,
  expiresAt: new Date('2026-12-01T00:00:00Z'),
  projects: ['one'],
};

const message = (html: string, text = 'plain') => ({ subject: 'Subject', text, html });

describe('findExternalLinks', () => {
  it('finds no external link in any shipped template, whatever the base URL', () => {
    for (const base of ['https://pypi.example.org', 'http://localhost:3000', 'https://www.example.co.uk/site/']) {
      for (const name of listTemplates()) {
        expect(findExternalLinks(renderTemplate(name, sampleTemplateContext(base, new Date())), base), `${name} on ${base}`).toEqual([]);
      }
    }
  });

  it('catches a template that links elsewhere, in either part', () => {
    const source = {
      subject: 'Verify on {{siteName}}',
      text: 'Open {{verifyUrl}} or read https://blog.example.net/why',
      html: '<p><a href="{{verifyUrl}}">verify</a> <a href="https://help.example.net/">help</a></p>',
    };
    expect(findExternalLinks(renderTemplateSource(source, context), baseUrl)).toEqual([
      'https://help.example.net/',
      'https://blog.example.net/why',
    ]);
  });

  it('catches tracking links: a click tracker, a tracking pixel and tracking parameters on the site itself', () => {
    const html = [
      '<a href="https://click.mailer.example.net/ls/click?upn=abc123">verify</a>',
      '<img src="https://open.mailer.example.net/o.gif?u=1" width="1" height="1">',
      '<a href="https://example.org/verify/x?utm_source=campaign&amp;utm_medium=email">verify</a>',
    ].join('');
    expect(findExternalLinks(message(html, 'https://example.org/verify/x?mc_eid=42'), baseUrl)).toEqual([
      'https://click.mailer.example.net/ls/click?upn=abc123',
      'https://open.mailer.example.net/o.gif?u=1',
      'https://example.org/verify/x?utm_source=campaign&utm_medium=email',
      'https://example.org/verify/x?mc_eid=42',
    ]);
  });

  it('reports other schemes, relative links, CSS and srcset URLs, and visible URLs in the HTML text', () => {
    const html = [
      '<a href="mailto:support@example.org">mail us</a>',
      '<a href="javascript:alert(1)">x</a>',
      '<a href="/account">settings</a>',
      '<img srcset="https://cdn.example.net/a.png 1x, https://example.org/b.png 2x">',
      '<div style="background:url(\'https://cdn.example.net/bg.png\')"></div>',
      '<style>p { background: url(https://css.example.net/p.png) }</style>',
      '<p>or go to evil.example.net yourself</p>',
    ].join('');
    expect(findExternalLinks(message(html), baseUrl)).toEqual([
      'mailto:support@example.org',
      'javascript:alert(1)',
      '/account',
      'https://cdn.example.net/a.png',
      // On the site, but neither the verification nor the stop link: an image on the site is a pixel the site could count.
      'https://example.org/b.png',
      'https://cdn.example.net/bg.png',
      'https://css.example.net/p.png',
      'evil.example.net',
    ]);
  });

  it('accepts the verification and stop links and ignores plain addresses and the bare site host in text', () => {
    const text = 'Sign in at example.org. Stop: https://example.org/stop/xyz. Your address: ada@gmail.example.com';
    const html = '<a href="https://example.org/verify/abc">verify</a><p>example.org</p><a href="https://example.org/stop/xyz">stop</a>';
    expect(findExternalLinks(message(html, text), baseUrl)).toEqual([]);
  });

  it('accepts exactly the two on-site paths: any other page of the site is refused, under a base path too', () => {
    const text = 'https://example.org/account https://example.org/ https://example.org/verify/ https://example.org/stop/a/b example.org/login';
    expect(findExternalLinks(message('<p>x</p>', text), baseUrl)).toEqual([
      'https://example.org/account',
      'https://example.org/',
      'https://example.org/verify/',
      'https://example.org/stop/a/b',
      'example.org/login',
    ]);
    const prefixed = 'https://example.org/site';
    const html = '<a href="https://example.org/site/stop/abc">ok</a><a href="https://example.org/stop/abc">outside the base path</a>';
    expect(findExternalLinks(message(html), prefixed)).toEqual(['https://example.org/stop/abc']);
  });

  it('does not take http for https on the same host', () => {
    expect(findExternalLinks(message('<a href="http://example.org/verify/abc">x</a>'), baseUrl)).toEqual(['http://example.org/verify/abc']);
  });
});
