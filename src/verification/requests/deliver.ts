import type { App } from '../../app/app.js';
import { renderTemplate, siteNameFromBaseUrl } from '../../mail/render.js';
import { sendMessage } from '../../mail/send.js';
import { classifySesError, describeSesError, type SesSender } from '../../mail/ses-client.js';
import { cachedAccountState } from '../../ses-account/account-limits.js';
import { accountSendingStopped } from '../../ses-account/figures.js';
import type { SendGate } from '../../pace/send-gate.js';
import type { Slots } from '../../pace/send-slots.js';
import { replyAddress } from '../reply-secret.js';
import { issueStopToken, stopHeaders, stopUrl } from '../stop-tokens.js';
import { verificationUrl } from '../tokens.js';
import { claimRequest, type ClaimedRequest } from './claim.js';
import { finishRequest, releaseRequest } from './request-store.js';
import type { VerificationRequestOutcome } from '../../db/database.js';

/**
 * Processes one verification request: decide and claim it (claim.ts), then
 * send its mail on the account's send path — a time from the shared send
 * gate, one of the process's send slots, SendEmail with tags the webhook
 * reads back — and record the outcome. A send SES may take later (429,
 * network, 5xx) gives the row back to be tried again after a pause; after
 * MAX_SEND_ATTEMPTS, or when SES refuses the message, it fails; so does a
 * request made while the recorded SES account state says SES sends nothing
 * (SHUTDOWN, sending disabled), without calling SES.
 */

export const MAX_SEND_ATTEMPTS = 5;
/** The pause after the n-th failed attempt: 30 s, 1 min, 2 min, 4 min. */
const RETRY_BASE_MS = 30_000;

export interface RequestSendContext {
  ses: SesSender;
  gate: SendGate | undefined;
  slots: Slots;
}

/** What became of a request: its outcome, `retrying`, or `taken` (another process has it). */
export type RequestResult = { outcome: VerificationRequestOutcome | 'retrying' | 'taken'; reason: string | null };

/** Processes request `id`; see the module comment. */
export async function processVerificationRequest(app: App, id: string, ctx: RequestSendContext): Promise<RequestResult> {
  const now = app.clock();
  const settings = { perDay: app.config.VERIFICATION_REQUESTS_PER_DAY, ttlHours: app.config.VERIFY_TOKEN_TTL_HOURS };
  const claim = await claimRequest(app.db, id, now, settings);
  if (claim.kind === 'taken') return { outcome: 'taken', reason: null };
  if (claim.kind === 'finished') {
    app.log.info({ requestId: id, outcome: claim.outcome, reason: claim.reason }, 'verification request processed without a mail');
    return { outcome: claim.outcome, reason: claim.reason };
  }
  // SES would refuse every attempt: say so now rather than retry for minutes (the site can tell its user).
  const stopped = accountSendingStopped((await cachedAccountState(app)).figures);
  if (stopped !== null) {
    await finishRequest(app.db, claim.request.id, 'failed', stopped, app.clock());
    app.log.warn({ requestId: id, reason: stopped }, 'verification request not mailed: the SES account sends nothing');
    return { outcome: 'failed', reason: stopped };
  }
  return sendRequested(app, claim.request, ctx);
}

async function sendRequested(app: App, request: ClaimedRequest, ctx: RequestSendContext): Promise<RequestResult> {
  const replyTo = replyAddress(app.config.REPLY_DOMAIN, request.emailId, request.replySecret);
  const baseUrl = app.config.PUBLIC_BASE_URL.replace(/\/+$/, '');
  // Every attempt carries a stop link of its own ("this is not me"), as campaign mail does.
  const stop = await issueStopToken(app.db, { userId: request.userId, emailId: request.emailId, email: request.email, purpose: 'verification', now: app.clock() });
  const stopLink = stopUrl(baseUrl, stop.token);
  const message = renderTemplate('verification-request', {
    username: request.username,
    email: request.email,
    verifyUrl: verificationUrl(baseUrl, request.token),
    stopUrl: stopLink,
    siteName: siteNameFromBaseUrl(app.config.PUBLIC_BASE_URL),
    baseUrl,
    expiresAt: request.expiresAt,
    projects: [],
    replyAddress: replyTo,
  });
  const schedule = ctx.gate ? await ctx.gate.reserve(1) : undefined;
  await schedule?.waitFor(0);
  let messageId: string;
  try {
    messageId = await ctx.slots.run(() =>
      sendMessage(ctx.ses, app.config, {
        to: request.email,
        message,
        tags: { kind: 'verification_request', request_id: request.id },
        replyTo,
        headers: stopHeaders(stopLink),
        beforeWire: schedule ? () => schedule.confirm(0) : undefined,
      }),
    );
  } catch (error) {
    return settleSendError(app, request, error);
  }
  // Outside the try: SES took the mail, so a failure to record it must not
  // release the row for a second send (left claimed, it ends as unknown_outcome).
  await finishRequest(app.db, request.id, 'sent', null, app.clock(), { sesMessageId: messageId });
  app.log.info({ requestId: request.id, userId: request.userId, emailId: request.emailId }, 'verification request mailed');
  return { outcome: 'sent', reason: null };
}

async function settleSendError(app: App, request: ClaimedRequest, error: unknown): Promise<RequestResult> {
  const reason = describeSesError(error);
  const attempts = await attemptsOf(app, request.id);
  if (classifySesError(error) === 'rejected' || attempts >= MAX_SEND_ATTEMPTS) {
    const why = attempts >= MAX_SEND_ATTEMPTS ? `gave up after ${attempts} attempts: ${reason}` : reason;
    await finishRequest(app.db, request.id, 'failed', why, app.clock());
    app.log.warn({ requestId: request.id, reason: why }, 'verification request not mailed: SES refused it');
    return { outcome: 'failed', reason: why };
  }
  const retryAt = new Date(app.clock().getTime() + RETRY_BASE_MS * 2 ** (attempts - 1));
  await releaseRequest(app.db, { id: request.id, tokenId: request.tokenId }, reason, retryAt);
  app.log.warn({ requestId: request.id, reason, retryAt }, 'verification request not mailed yet; it will be tried again');
  return { outcome: 'retrying', reason };
}

async function attemptsOf(app: App, id: string): Promise<number> {
  const row = await app.db.selectFrom('verification_requests').select('attempts').where('id', '=', id).executeTakeFirst();
  return row?.attempts ?? MAX_SEND_ATTEMPTS;
}
