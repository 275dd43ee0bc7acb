import { describe, expect, it } from 'vitest';
import { inboundMailNotification, type InboundMailInput } from '../../src/dev/inbound-mail.js';
import { confirmVerification } from '../../src/verification/confirm.js';
import { replyAddress } from '../../src/verification/reply-secret.js';
import { issueVerificationToken } from '../../src/verification/tokens.js';
import { useTestEnv } from '../helpers/env.js';
import { addAddress, addressState, post, TOPIC, useWebhook } from '../ses-events/helpers.js';
import { snapshot } from './fixtures.js';

const env = useTestEnv();
const DOMAIN = 'reply.example.org';
const hook = useWebhook(env, { overrides: { REPLY_DOMAIN: DOMAIN } });

/** An address with an unverified primary, a bounce on record, and a verification mail's token. */
async function mailed(options: { email?: string; expiredHoursAgo?: number } = {}) {
  const person = await addAddress(env.db, { email: options.email, reason: 'hard_bounce' });
  await env.db.insertInto('suppressions').values({ email: person.email.toLowerCase(), reason: 'hard_bounce' }).execute();
  const issuedAt = options.expiredHoursAgo === undefined ? new Date() : new Date(Date.now() - (options.expiredHoursAgo + 1) * 3_600_000);
  const token = await issueVerificationToken(env.db, { ...person, purpose: 'user_request', now: issuedAt, ttlHours: 1 + (options.expiredHoursAgo === undefined ? 167 : 0) });
  return { ...person, token, replyTo: replyAddress(DOMAIN, person.emailId, token.replySecret)! };
}

function reply(input: Omit<InboundMailInput, 'topicArn'>, messageId?: string) {
  return hook.signer.signedNotification({ topicArn: TOPIC, message: JSON.stringify(inboundMailNotification({ ...input, topicArn: TOPIC })), messageId });
}

async function lastInbound() {
  return env.db.selectFrom('inbound_replies').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
}

/** Posts a reply that must be refused: 200, its record with `reason`, and nothing else changed. */
async function expectRefused(input: Omit<InboundMailInput, 'topicArn'>, reason: string) {
  const before = await snapshot(env.db);
  const response = await post(hook.server, reply(input));
  expect(response.statusCode).toBe(200);
  expect(response.json()).toEqual({ status: 'ignored', outcome: 'refused', reason });
  expect(await snapshot(env.db)).toEqual(before);
  expect(await lastInbound()).toMatchObject({ outcome: 'refused', reason });
}

describe('verification by reply', () => {
  it('confirms the address once for a genuine reply, as the link would (bounce reason and suppression cleared, audit channel reply)', async () => {
    const person = await mailed();
    const signed = reply({ from: `Some One <${person.email}>`, to: person.replyTo });
    const response = await post(hook.server, signed);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'processed', outcome: 'verified' });
    expect(await addressState(env.db, person.emailId)).toEqual({ verified: true, reason: null, transientBounces: 0, suppression: null });
    const audit = await env.db.selectFrom('audit_log').selectAll().where('email_id', '=', person.emailId).where('action', '=', 'email.verified').execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]!.details).toMatchObject({ channel: 'reply', tokenId: person.token.id, suppressionLifted: true });
    expect(await lastInbound()).toMatchObject({ outcome: 'verified', reason: null, token_id: person.token.id, email_id: person.emailId, target: `v${person.emailId}` });
    const token = await env.db.selectFrom('verification_tokens').select('used_at').where('id', '=', person.token.id).executeTakeFirstOrThrow();
    expect(token.used_at).not.toBeNull();

    // The same notification again (SNS redelivers): a duplicate, nothing more recorded.
    const rows = (await env.db.selectFrom('inbound_replies').select('id').execute()).length;
    const replay = await post(hook.server, signed);
    expect(replay.statusCode).toBe(200);
    expect(replay.json()).toEqual({ status: 'duplicate' });
    expect((await env.db.selectFrom('inbound_replies').select('id').execute()).length).toBe(rows);
    // The same received mail notified again under another SNS MessageId (an S3 and an SNS action): a duplicate too.
    const again = hook.signer.signedNotification({ topicArn: TOPIC, message: signed.Message });
    expect(again.MessageId).not.toBe(signed.MessageId);
    expect((await post(hook.server, again)).json()).toEqual({ status: 'duplicate' });
    expect((await env.db.selectFrom('inbound_replies').select('id').execute()).length).toBe(rows);
    // A second reply to the same mail: the token is used.
    await expectRefused({ from: person.email, to: person.replyTo }, 'token_used');
  });

  it('refuses a wrong secret, and the secret of another address', async () => {
    const person = await mailed();
    const other = await mailed();
    const wrong = person.replyTo.replace(/-confirm-[a-z2-7]{4}/, '-confirm-aaaa');
    await expectRefused({ from: person.email, to: wrong }, 'unknown_secret');
    const swapped = `v${person.emailId}-confirm-${other.token.replySecret}@${DOMAIN}`;
    await expectRefused({ from: person.email, to: swapped }, 'unknown_secret');
    await expectRefused({ from: person.email, to: `someone-else@${DOMAIN}` }, 'not_a_reply_address');
  });

  it('refuses an expired token and a token already used by its link', async () => {
    const expired = await mailed({ expiredHoursAgo: 2 });
    await expectRefused({ from: expired.email, to: expired.replyTo }, 'token_expired');
    const clicked = await mailed();
    expect((await confirmVerification(env.db, clicked.token.token, new Date())).status).toBe('verified');
    await expectRefused({ from: clicked.email, to: clicked.replyTo }, 'token_used');
  });

  it('refuses a From of another address, or the same address with its local part in another case', async () => {
    const person = await mailed({ email: `Mixed.Case-${process.pid}@Example.net` });
    await expectRefused({ from: `attacker@evil.example`, to: person.replyTo }, 'from_not_token_address');
    await expectRefused({ from: person.email.replace('Mixed.Case', 'mixed.case'), to: person.replyTo }, 'from_not_token_address');
    await expectRefused({ from: `${person.email}, attacker@evil.example`, to: person.replyTo }, 'several_from_addresses');
  });

  it('refuses what SES does not vouch for: SPF and DKIM both not passing, DMARC fail, a spam or virus verdict fail', async () => {
    const person = await mailed();
    const base = { from: person.email, to: person.replyTo };
    await expectRefused({ ...base, verdicts: { spf: 'FAIL', dkim: 'FAIL' } }, 'spf_and_dkim_not_pass');
    await expectRefused({ ...base, verdicts: { spf: 'GRAY', dkim: 'PROCESSING_FAILED' } }, 'spf_and_dkim_not_pass');
    await expectRefused({ ...base, verdicts: { dmarc: 'FAIL' } }, 'dmarc_fail');
    await expectRefused({ ...base, verdicts: { spam: 'FAIL' } }, 'spam_verdict_fail');
    await expectRefused({ ...base, verdicts: { virus: 'FAIL' } }, 'virus_verdict_fail');
    // One of SPF and DKIM passing is enough, the refusals above changed nothing: it still confirms.
    const response = await post(hook.server, reply({ ...base, verdicts: { spf: 'FAIL', dkim: 'PASS', dmarc: 'GRAY' } }));
    expect(response.json()).toEqual({ status: 'processed', outcome: 'verified' });
  });

  it('confirms a reply whose From differs only in the case of the domain, and a reply address a relay upper-cased', async () => {
    const person = await mailed();
    const [local, domain] = person.email.split('@') as [string, string];
    const response = await post(hook.server, reply({ from: `${local}@${domain.toUpperCase()}`, to: person.replyTo.toUpperCase() }));
    expect(response.json()).toEqual({ status: 'processed', outcome: 'verified' });
    expect((await addressState(env.db, person.emailId)).verified).toBe(true);
  });

  it('confirms from an S3-action notification, which carries headers and no content', async () => {
    const person = await mailed();
    const signed = reply({ from: person.email, to: person.replyTo, action: 'S3' });
    expect(JSON.parse(signed.Message)).not.toHaveProperty('content');
    const response = await post(hook.server, signed);
    expect(response.json()).toEqual({ status: 'processed', outcome: 'verified' });
    expect(await lastInbound()).toMatchObject({ outcome: 'verified', action_type: 'S3' });
  });

  it('keeps refusing forged and malformed notifications with the usual answers', async () => {
    const person = await mailed();
    const signed = reply({ from: person.email, to: person.replyTo });
    const forged = { ...signed, Message: signed.Message.replace(person.email, 'attacker@evil.example') };
    expect((await post(hook.server, forged)).statusCode).toBe(403);
    expect((await post(hook.server, '{"Type": "Notification"')).statusCode).toBe(400);
    expect((await addressState(env.db, person.emailId)).verified).toBe(false);
  });
});
