import { createHash } from 'node:crypto';
import Handlebars from 'handlebars';
import { formatUtc } from '../mail/render.js';
import type { ConfirmResult, VerificationView } from './confirm.js';

/**
 * The pages a verification link shows. Server-rendered with Handlebars (HTML
 * escaping by the engine), one inline stylesheet allowed by its hash in the
 * Content-Security-Policy, no scripts, no external assets, no links out.
 */

const STYLE = `body{margin:0;background:#f6f7f9;color:#1a1a1a;font:16px/1.5 Helvetica,Arial,sans-serif}
main{max-width:560px;margin:48px auto;padding:32px;background:#fff;border:1px solid #dde1e6;border-radius:6px}
h1{font-size:22px;margin:0 0 16px}
button{font:inherit;padding:12px 20px;background:#0b5cad;color:#fff;border:0;border-radius:4px;cursor:pointer}
.note{color:#555;font-size:14px}`;

/** Sent with every page: only the inline stylesheet above, forms back to this site, nothing else. */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': [
    "default-src 'none'",
    `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

const handlebars = Handlebars.create();

// The form has no action attribute: it posts to the page's own URL, so the
// token is not repeated in the page and a path prefix in front of the site still works.
const layout = handlebars.compile(
  `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{title}} – {{siteName}}</title>
<style>{{{style}}}</style>
</head>
<body>
<main>
<h1>{{title}}</h1>
{{#each paragraphs}}<p>{{this}}</p>
{{/each}}
{{#if form}}<form method="post"><button type="submit">{{form}}</button></form>
{{/if}}
<p class="note">{{siteName}} never asks for your password on this page or by email.</p>
</main>
</body>
</html>
`,
  { strict: true },
);

export interface Page {
  statusCode: number;
  html: string;
}

export interface PageContext {
  siteName: string;
  /** Host of PUBLIC_BASE_URL, where a new link can be requested. */
  host: string;
}

/** The page GET /verify/:token shows: a confirmation button for a valid token, or why it cannot be used. */
export function confirmationPage(view: VerificationView, context: PageContext): Page {
  if (view.status !== 'valid') return refusalPage(view.status, view, context);
  return page(200, context, 'Confirm your email address', [
    `Press the button to confirm that ${view.email ?? ''} is your address for the account ${view.username ?? ''} on ${context.siteName}.`,
    view.expiresAt ? `This link works once and expires on ${formatUtc(view.expiresAt)}.` : '',
  ], 'Confirm my address');
}

/** The page POST /verify/:token shows. */
export function resultPage(result: ConfirmResult, context: PageContext): Page {
  if (result.status !== 'verified') return refusalPage(result.status, result, context);
  return page(200, context, 'Your email address is confirmed', [
    `Thank you. ${result.email ?? 'Your address'} is now verified for the account ${result.username ?? ''} on ${context.siteName}.`,
    'Password reset messages and notifications will keep reaching you there. There is nothing else to do; you can close this page.',
  ]);
}

/** The page shown when the server cannot complete the request (database down): try again later. */
export function unavailablePage(context: PageContext): Page {
  return page(503, context, 'Please try again in a few minutes', [
    'We could not confirm your address just now. Nothing was changed, and your link still works: open it again in a few minutes.',
  ]);
}

/** The page shown for a request that cannot be handled (e.g. an oversized body). */
export function badRequestPage(statusCode: number, context: PageContext): Page {
  return page(statusCode, context, 'This request could not be handled', [
    'Nothing was changed. Open the link from the message again and press the confirmation button.',
  ]);
}

function refusalPage(
  status: Exclude<VerificationView['status'] | ConfirmResult['status'], 'valid' | 'verified'>,
  view: VerificationView | ConfirmResult,
  context: PageContext,
): Page {
  const newLink = `To get a new link, go to ${context.host} yourself, sign in, and request a new verification link from your account settings.`;
  switch (status) {
    case 'used':
      // 410: the link is gone for good; a repeated press is common and must not look like an error on our side.
      return page(410, context, 'This link has already been used', [
        'Each verification link works only once. If you pressed the confirmation button before, your address is already confirmed.',
        `To check, sign in at ${context.host} and look at your account settings. ${newLink}`,
      ]);
    case 'expired':
      return page(410, context, 'This link has expired', [
        view.expiresAt ? `This verification link expired on ${formatUtc(view.expiresAt)}. Nothing was changed.` : 'This verification link has expired. Nothing was changed.',
        newLink,
      ]);
    case 'address_changed':
      // 409: the link is fine but what it confirms no longer matches the account.
      return page(409, context, 'This link is for an address that has changed', [
        'The email address this link was sent for is no longer the one on the account, so it cannot be confirmed with this link. Nothing was changed.',
        newLink,
      ]);
    case 'unknown':
      return page(404, context, 'This link is not valid', [
        'We do not know this verification link. Check that you opened the whole link from the message; some mail programs split long links.',
        newLink,
      ]);
  }
}

/**
 * A page in the verification pages' layout (and so under their security
 * headers): a title, paragraphs, and with `form` a button of that label that
 * posts back to the page's own URL.
 */
export function page(statusCode: number, context: PageContext, title: string, paragraphs: string[], form: string | false = false): Page {
  return {
    statusCode,
    html: layout({ title, siteName: context.siteName, style: STYLE, paragraphs: paragraphs.filter(Boolean), form }),
  };
}
