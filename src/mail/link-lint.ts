import { Parser } from 'htmlparser2';
import LinkifyIt from 'linkify-it';
import type { RenderedMessage } from './render.js';

/**
 * Link lint: campaign mail links only to the site itself (PUBLIC_BASE_URL),
 * never through a tracker or a redirector — mail full of rewritten links is
 * what made an earlier campaign look like phishing.
 *
 * What counts as a link:
 * - HTML part: every URL-bearing attribute (href, src, srcset, action,
 *   formaction, background, poster, cite, data, longdesc, xlink:href), every
 *   `url(...)` in style attributes and <style> blocks, a meta refresh target,
 *   and every URL a mail client would auto-link in the visible text.
 * - Text part: every URL a mail client would auto-link: with a scheme
 *   (https://…, mailto:…) and scheme-less host names with a known TLD
 *   (evil.example.com). Plain email addresses in the text are NOT links here:
 *   the message names the recipient's own address.
 *
 * A link is reported when it is not an absolute URL on PUBLIC_BASE_URL's
 * origin: other hosts, other schemes (mailto:, javascript:, data:, tel:),
 * relative or protocol-relative links (they have no base in a mail), and —
 * though same-origin — links carrying tracking parameters (utm_*, fbclid…)
 * and links to any page but the two a message needs: the verification link
 * (`/verify/<token>`) and the stop link (`/stop/<token>`), under
 * PUBLIC_BASE_URL's path. Scheme-less host names in text are compared by
 * host only, and only the bare host ("type example.org into your browser").
 */
const ON_SITE_PATHS = ['verify', 'stop'];

const URL_ATTRIBUTES = new Set(['href', 'src', 'action', 'formaction', 'background', 'poster', 'cite', 'data', 'longdesc', 'xlink:href']);
const TRACKING_PARAM = /^(utm_[a-z]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|_hsenc|_hsmi|mkt_tok|igshid|oly_enc_id|oly_anon_id|vero_id|_ke)$/i;
const CSS_URL = /url\(\s*(['"]?)(.*?)\1\s*\)/gi;

const linkify = new LinkifyIt(undefined, { fuzzyEmail: false, fuzzyLink: true, fuzzyIP: false });

interface FoundLink {
  /** The link as a mail client would resolve it. */
  url: string;
  /** The link as written, for the report; defaults to `url`. */
  raw?: string;
  /** Scheme-less host name from text: compared by host only. */
  fuzzy: boolean;
}

/** Every link in `message` that leaves PUBLIC_BASE_URL's origin or carries tracking parameters, in order, without duplicates. */
export function findExternalLinks(message: RenderedMessage, baseUrl: string): string[] {
  const base = new URL(baseUrl);
  const found = [...linksInHtml(message.html), ...linksInText(message.text), ...linksInText(message.subject)];
  const external = found.filter((link) => !isAllowed(link, base)).map((link) => link.raw ?? link.url);
  return [...new Set(external)];
}

function isAllowed(link: FoundLink, base: URL): boolean {
  let parsed: URL;
  try {
    parsed = new URL(link.url);
  } catch {
    return false; // relative, protocol-relative or malformed: no place in a mail
  }
  if (link.fuzzy ? parsed.host !== base.host : parsed.origin !== base.origin) return false;
  for (const name of parsed.searchParams.keys()) if (TRACKING_PARAM.test(name)) return false;
  if (link.fuzzy) return parsed.pathname === '/' && parsed.search === '';
  return isOnSitePath(parsed.pathname, base.pathname);
}

/** `<base path>/verify/<token>` or `<base path>/stop/<token>`: one segment after the page's name, nothing more. */
function isOnSitePath(pathname: string, basePath: string): boolean {
  const prefix = basePath.replace(/\/+$/, '');
  if (!pathname.startsWith(`${prefix}/`)) return false;
  const [page, token, ...rest] = pathname.slice(prefix.length + 1).split('/');
  return ON_SITE_PATHS.includes(page ?? '') && Boolean(token) && rest.length === 0;
}

function linksInText(text: string): FoundLink[] {
  return (linkify.match(text) ?? []).map((match) => ({
    url: match.schema === '' ? match.url : match.raw,
    raw: match.raw,
    fuzzy: match.schema === '',
  }));
}

function linksInHtml(html: string): FoundLink[] {
  const links: FoundLink[] = [];
  let text = '';
  let inStyle = false;
  const flushText = () => {
    if (text) links.push(...linksInText(text));
    text = '';
  };
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        flushText();
        if (name === 'style') inStyle = true;
        for (const [attribute, value] of Object.entries(attributes)) {
          const key = attribute.toLowerCase();
          if (URL_ATTRIBUTES.has(key)) links.push({ url: value.trim(), fuzzy: false });
          else if (key === 'srcset') links.push(...srcsetUrls(value));
          else if (key === 'style') links.push(...cssUrls(value));
        }
        if (name === 'meta' && attributes['http-equiv']?.toLowerCase() === 'refresh') {
          const target = /url\s*=\s*['"]?([^'"\s]+)/i.exec(attributes.content ?? '');
          if (target?.[1]) links.push({ url: target[1], fuzzy: false });
        }
      },
      ontext(chunk) {
        if (inStyle) links.push(...cssUrls(chunk));
        else text += chunk;
      },
      onclosetag(name) {
        if (name === 'style') inStyle = false;
        flushText();
      },
    },
    { decodeEntities: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  flushText();
  return links;
}

function srcsetUrls(value: string): FoundLink[] {
  return value
    .split(',')
    .map((candidate) => candidate.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean)
    .map((url) => ({ url, fuzzy: false }));
}

function cssUrls(css: string): FoundLink[] {
  return [...css.matchAll(CSS_URL)].map((match) => ({ url: (match[2] ?? '').trim(), fuzzy: false }));
}
