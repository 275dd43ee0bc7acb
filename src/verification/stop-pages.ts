import { formatUtc } from '../mail/render.js';
import { page, type Page, type PageContext } from './pages.js';
import type { StopResult, StopView } from './stop.js';

/**
 * The pages the stop link shows, in the verification pages' layout and under
 * the same security headers (src/verification/pages.ts). Unknown and
 * malformed tokens are answered as /verify answers them (404).
 */

/** GET /stop/:token: what pressing the button will do, and the button; nothing changes. */
export function stopConfirmationPage(view: StopView, context: PageContext): Page {
  if (view.status === 'unknown') return unknownStopPage(context);
  if (view.status === 'used') return usedStopPage(view, context);
  return page(200, context, 'Stop mail to this address', [
    `This is not my account, or I do not want these messages: press the button and ${context.siteName} will stop sending email to ${view.email ?? 'this address'}.`,
    `Nothing happens until you press it. Only a verification link you ask for yourself, signed in at ${context.host}, would still be sent there.`,
  ], 'Stop mail to this address');
}

/** POST /stop/:token from the page's button. */
export function stopResultPage(result: StopResult, context: PageContext): Page {
  if (result.status === 'unknown') return unknownStopPage(context);
  if (result.status === 'used') return usedStopPage(result, context);
  return page(200, context, 'Mail to this address is stopped', [
    `${context.siteName} will not send email to ${result.email ?? 'this address'} again, for this or any other campaign.`,
    `If this is your account after all, sign in at ${context.host} and ask for a verification link from your account settings: confirming the address lifts the stop.`,
  ]);
}

function usedStopPage(view: StopView | StopResult, context: PageContext): Page {
  // 410, as /verify answers a used link: a repeated press must not look like an error on our side.
  return page(410, context, 'This link has already been used', [
    `Mail to ${view.email ?? 'this address'} was stopped${view.usedAt ? ` on ${formatUtc(view.usedAt)}` : ''}. Nothing else needs to be done.`,
  ]);
}

function unknownStopPage(context: PageContext): Page {
  return page(404, context, 'This link is not valid', [
    'We do not know this link. Check that you opened the whole link from the message; some mail programs split long links.',
    `You can also sign in at ${context.host} and change your email settings there.`,
  ]);
}
