/**
 * Which URLs the webhook will fetch from: only SNS's own certificate and
 * subscription endpoints. Checked before any request leaves the process, so a
 * forged message cannot make reverify fetch (or trust a key from) another host.
 */

import { clip } from '../echo.js';

const SNS_HOST = /^sns\.[a-z]{2}(-[a-z]+)+-\d\.amazonaws\.com(\.cn)?$/;
const CERT_PATH = /^\/SimpleNotificationService-[A-Za-z0-9]+\.pem$/;

export type UrlCheck = { ok: true; url: URL } | { ok: false; problem: string };

/** True for sns.<region>.amazonaws.com and sns.<region>.amazonaws.com.cn. */
export function isSnsHost(hostname: string): boolean {
  return SNS_HOST.test(hostname);
}

/**
 * Accepts only https://sns.<region>.amazonaws.com[.cn]/SimpleNotificationService-<id>.pem,
 * spelled exactly as the URL parser writes it back (lower-case host, no port,
 * no dot segments, no escapes it would rewrite): SNS sends it that way, and
 * other spellings of one URL would each cost a fetch and a cache entry.
 */
export function checkSigningCertUrl(value: string): UrlCheck {
  const base = checkSnsUrl(value, 'SigningCertURL');
  if (!base.ok) return base;
  if (base.url.href !== value || /\/\.\.?(\/|$)/.test(value)) {
    return { ok: false, problem: 'SigningCertURL is not in canonical form (as SNS sends it: lower-case host, no port, no dot segments)' };
  }
  if (!CERT_PATH.test(base.url.pathname)) return { ok: false, problem: 'SigningCertURL path is not /SimpleNotificationService-<id>.pem' };
  if (base.url.search !== '' || base.url.hash !== '') return { ok: false, problem: 'SigningCertURL has a query or fragment' };
  return base;
}

/** Accepts only https URLs on an SNS host (for SubscribeURL). */
export function checkSubscribeUrl(value: string): UrlCheck {
  return checkSnsUrl(value, 'SubscribeURL');
}

function checkSnsUrl(value: string, name: string): UrlCheck {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, problem: `${name} is not a URL` };
  }
  if (url.protocol !== 'https:') return { ok: false, problem: `${name} is not https` };
  if (url.username !== '' || url.password !== '') return { ok: false, problem: `${name} carries credentials` };
  if (url.port !== '') return { ok: false, problem: `${name} names a port` };
  if (!isSnsHost(url.hostname)) return { ok: false, problem: `${name} host ${clip(url.hostname)} is not sns.<region>.amazonaws.com` };
  return { ok: true, url };
}
