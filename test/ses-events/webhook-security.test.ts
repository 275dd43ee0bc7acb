import { readdir } from 'node:fs/promises';
import { buildServer } from '../../src/http/server.js';
import { createWebhookRoutes } from '../../src/http/routes/webhook.js';
import { describe, expect, it } from 'vitest';
import { certCacheFileName, FAILURE_TTL_MS } from '../../src/ses-events/cert-store.js';
import { createLocalSnsSigner } from '../../src/dev/sns-signer.js';
import { sampleSesEvent } from '../../src/dev/sample-events.js';
import { useTestEnv } from '../helpers/env.js';
import { addAddress, addressState, databaseSnapshot, OTHER_TOPIC, post, TOPIC, useWebhook } from './helpers.js';

const env = useTestEnv();
const hook = useWebhook(env);

function hardBounceFor(email: string, overrides: { signatureVersion?: '1' | '2'; timestamp?: Date; topicArn?: string; subject?: string } = {}) {
  return hook.signer.signedNotification({
    topicArn: overrides.topicArn ?? TOPIC,
    message: sampleSesEvent('hard_bounce', { to: email }),
    signatureVersion: overrides.signatureVersion,
    timestamp: overrides.timestamp,
    subject: overrides.subject,
  });
}

describe('POST /webhooks/ses accepts genuine SNS messages', () => {
  it.each(['1', '2'] as const)('applies a hard bounce signed with SignatureVersion %s', async (version) => {
    const address = await addAddress(env.db);
    const response = await post(hook.server, hardBounceFor(address.email, { signatureVersion: version, subject: 'Amazon SES Email Event Notification' }));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'processed', outcome: 'applied' });
    expect(await addressState(env.db, address.emailId)).toEqual({ verified: false, reason: 'hard_bounce', transientBounces: 0, suppression: 'hard_bounce' });
  });

  it('counts the same message delivered three times once', async () => {
    const address = await addAddress(env.db, { transientBounces: 0 });
    const message = hook.signer.signedNotification({ topicArn: TOPIC, message: sampleSesEvent('soft_bounce', { to: address.email }) });
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await post(hook.server, message)).json().status);
    expect(statuses).toEqual(['processed', 'duplicate', 'duplicate']);
    expect((await addressState(env.db, address.emailId)).transientBounces).toBe(1);
    const events = await env.db.selectFrom('email_events').select('id').where('sns_message_id', '=', message.MessageId).execute();
    expect(events).toHaveLength(1);
  });

  it('counts concurrent copies of one message once', async () => {
    const address = await addAddress(env.db);
    const message = hook.signer.signedNotification({ topicArn: TOPIC, message: sampleSesEvent('soft_bounce', { to: address.email }) });
    const responses = await Promise.all(Array.from({ length: 6 }, () => post(hook.server, message)));
    expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(responses.filter((r) => r.json().status === 'processed')).toHaveLength(1);
    expect((await addressState(env.db, address.emailId)).transientBounces).toBe(1);
  });

  it('matches the address case-insensitively', async () => {
    const address = await addAddress(env.db, { email: `Mixed.Case${process.pid}@Example.NET` });
    const response = await post(hook.server, hardBounceFor(address.email.toUpperCase()));
    expect(response.json()).toMatchObject({ outcome: 'applied' });
    expect(await addressState(env.db, address.emailId)).toMatchObject({ reason: 'hard_bounce', suppression: 'hard_bounce' });
  });

  it('records an event for an unknown address and answers 200', async () => {
    const message = hardBounceFor('nobody-we-know@example.net');
    const response = await post(hook.server, message);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ignored', outcome: 'unknown_address' });
    const row = await env.db.selectFrom('email_events').select(['outcome', 'event_type', 'sub_type']).where('sns_message_id', '=', message.MessageId).executeTakeFirstOrThrow();
    expect(row).toEqual({ outcome: 'unknown_address', event_type: 'Bounce', sub_type: 'Permanent/General' });
  });

  it('stores a genuine event whose text PostgreSQL would refuse (NUL, lone surrogate) instead of failing it forever', async () => {
    const address = await addAddress(env.db);
    const nasty = hook.signer.signedNotification({
      topicArn: TOPIC,
      message: sampleSesEvent('hard_bounce', { to: [address.email, 'nul\u0000@example.net'], subType: 'General\u0000\ud800' }),
    });
    const response = await post(hook.server, nasty);
    expect(response.statusCode).toBe(200);
    expect(await addressState(env.db, address.emailId)).toMatchObject({ reason: 'hard_bounce' });
    const notJson = hook.signer.signedNotification({ topicArn: TOPIC, message: 'not json at all \u0000' });
    expect((await post(hook.server, notJson)).statusCode).toBe(200);
  });

  it('records a genuine message the database cannot store as unstorable and answers 200, so SNS does not retry it forever', async () => {
    const address = await addAddress(env.db);
    // An SES message id far beyond what a btree index entry can hold: PostgreSQL refuses the row (54000).
    const hugeId = Array.from({ length: 400 }, () => crypto.randomUUID()).join('');
    const message = hook.signer.signedNotification({ topicArn: TOPIC, message: sampleSesEvent('hard_bounce', { to: address.email, sesMessageId: hugeId }) });
    const first = await post(hook.server, message);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ status: 'ignored', outcome: 'unstorable' });
    expect((await post(hook.server, message)).statusCode).toBe(200);
    const rows = await env.db.selectFrom('email_events').select(['outcome', 'event_type']).where('sns_message_id', '=', message.MessageId).execute();
    expect(rows).toEqual([{ outcome: 'unstorable', event_type: 'Unstorable' }]);
    expect(await addressState(env.db, address.emailId)).toMatchObject({ reason: null });
  });

  it('records an unknown event type and a Message that is not JSON, answering 200', async () => {
    const open = hook.signer.signedNotification({ topicArn: TOPIC, message: sampleSesEvent('unknown', { to: 'a@example.net' }) });
    const text = hook.signer.signedNotification({ topicArn: TOPIC, message: 'hello, this is not SES' });
    for (const message of [open, text]) {
      const response = await post(hook.server, message);
      expect(response.statusCode).toBe(200);
      const row = await env.db.selectFrom('email_events').select('outcome').where('sns_message_id', '=', message.MessageId).executeTakeFirstOrThrow();
      expect(row.outcome).toBe('unknown_type');
    }
  });
});

describe('POST /webhooks/ses refuses everything else and changes nothing', () => {
  async function expectRefused(body: Record<string, string> | string, status: number, typeHeader?: string | null) {
    const before = await databaseSnapshot(env.db);
    const response = await post(hook.server, body, typeHeader);
    expect(response.statusCode).toBe(status);
    expect(await databaseSnapshot(env.db)).toEqual(before);
  }

  const signedFields = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] as const;
  it.each(signedFields)('a changed byte in %s → 403 (or 400 when the change makes it malformed)', async (field) => {
    const address = await addAddress(env.db);
    const message = hardBounceFor(address.email, { subject: 'Amazon SES Email Event Notification' });
    const value = message[field] as string;
    // Flip one character of the field, keeping it well-formed where the field has a shape.
    const index = field === 'Timestamp' ? value.length - 6 : field === 'Type' ? 0 : value.length - 2;
    const replacement = field === 'Timestamp' ? (value[index] === '1' ? '2' : '1') : value[index] === 'x' ? 'y' : 'x';
    const tampered = { ...message, [field]: value.slice(0, index) + replacement + value.slice(index + 1) };
    if (field === 'TopicArn') {
      // A changed topic is not ours at all; either way nothing happens.
      await expectRefused(tampered, 403);
    } else if (field === 'Type') {
      await expectRefused(tampered, 400, 'Notification');
    } else {
      await expectRefused(tampered, 403);
    }
    expect(await addressState(env.db, address.emailId)).toMatchObject({ reason: null, suppression: null });
  });

  it('a signature by another key for the same certificate URL → 403', async () => {
    const address = await addAddress(env.db);
    const impostor = await createLocalSnsSigner({ certCacheDir: hook.certDir, certUrl: hook.signer.certUrl, install: false });
    const message = impostor.signedNotification({ topicArn: TOPIC, message: sampleSesEvent('hard_bounce', { to: address.email }) });
    await expectRefused(message, 403);
  });

  it('a signature by a certificate that had expired, or was not yet valid, at the message\'s Timestamp → 403', async () => {
    const address = await addAddress(env.db);
    const day = 86_400_000;
    const expired = await createLocalSnsSigner({ certCacheDir: hook.certDir, notBefore: new Date(Date.now() - 30 * day), notAfter: new Date(Date.now() - day) });
    const early = await createLocalSnsSigner({ certCacheDir: hook.certDir, notBefore: new Date(Date.now() + day), notAfter: new Date(Date.now() + 30 * day) });
    for (const signer of [expired, early]) {
      const message = signer.signedNotification({ topicArn: TOPIC, message: sampleSesEvent('hard_bounce', { to: address.email }) });
      await expectRefused(message, 403);
      const response = await post(hook.server, message);
      expect(response.json()).toMatchObject({ reason: 'bad_certificate' });
      expect(response.json().error).toMatch(/not valid at the message's Timestamp/);
    }
    expect(await addressState(env.db, address.emailId)).toMatchObject({ reason: null, suppression: null });
  });

  it('an empty or garbled signature → 403', async () => {
    const message = hardBounceFor('x@example.net');
    await expectRefused({ ...message, Signature: Buffer.from('not a signature').toString('base64') }, 403);
  });

  it.each([
    ['another host', 'https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-abc.pem'],
    ['a look-alike host', 'https://sns-us-east-1.amazonaws.com/SimpleNotificationService-abc.pem'],
    ['another path', 'https://sns.us-east-1.amazonaws.com/certs/SimpleNotificationService-abc.pem'],
    ['another file name', 'https://sns.us-east-1.amazonaws.com/evil.pem'],
    ['plain http', 'http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem'],
    ['a port', 'https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-abc.pem'],
  ])('a SigningCertURL on %s → 403 before any fetch', async (_label, certUrl) => {
    const message = hook.signer.sign({
      Type: 'Notification',
      MessageId: crypto.randomUUID(),
      TopicArn: TOPIC,
      Message: sampleSesEvent('hard_bounce', { to: 'x@example.net' }),
      Timestamp: new Date().toISOString(),
      SigningCertURL: certUrl,
    });
    const fetchedBefore = hook.fetched.length;
    await expectRefused(message, 403);
    expect(hook.fetched.length).toBe(fetchedBefore);
  });

  it('a topic not in SNS_TOPIC_ARNS → 403', async () => {
    await expectRefused(hardBounceFor('x@example.net', { topicArn: OTHER_TOPIC }), 403);
  });

  it('a Timestamp older than SNS_MAX_AGE_SECONDS → 403', async () => {
    await expectRefused(hardBounceFor('x@example.net', { timestamp: new Date(Date.now() - 3601_000) }), 403);
  });

  it('a Timestamp far in the future → 403', async () => {
    await expectRefused(hardBounceFor('x@example.net', { timestamp: new Date(Date.now() + 3600_000) }), 403);
  });

  it('an x-amz-sns-message-type header that disagrees with Type, or is missing → 400', async () => {
    await expectRefused(hardBounceFor('x@example.net'), 400, 'SubscriptionConfirmation');
    await expectRefused(hardBounceFor('x@example.net'), 400, null);
  });

  it.each([
    ['not JSON', '{"Type": "Notification", '],
    ['a JSON array', '[]'],
    ['an empty body', ''],
  ])('a body that is %s → 400', async (_label, body) => {
    await expectRefused(body, 400);
  });

  it('a message without its Signature → 400', async () => {
    const { Signature: _dropped, ...unsigned } = hardBounceFor('x@example.net');
    await expectRefused(unsigned, 400);
  });

  it('a body over 256 KiB → 413', async () => {
    const message = hardBounceFor('x@example.net');
    await expectRefused({ ...message, Message: 'x'.repeat(256 * 1024) }, 413);
  });

  it('reads a JSON content type as text too', async () => {
    const address = await addAddress(env.db);
    const response = await hook.server.inject({
      method: 'POST',
      url: '/webhooks/ses',
      headers: { 'content-type': 'application/json', 'x-amz-sns-message-type': 'Notification' },
      payload: JSON.stringify(hardBounceFor(address.email)),
    });
    expect(response.statusCode).toBe(200);
  });
});

describe('signing certificates', () => {
  it('fetches an unknown certificate once, caches it on disk, and answers 503 while SNS is unreachable (for a minute, from memory)', async () => {
    const other = await createLocalSnsSigner({ certCacheDir: hook.certDir, install: false });
    const message = () => other.signedNotification({ topicArn: TOPIC, message: sampleSesEvent('delivery', { to: 'x@example.net' }) });

    hook.fetchAnswer = () => new Error('connect ECONNREFUSED');
    const before = await databaseSnapshot(env.db);
    expect((await post(hook.server, message())).statusCode).toBe(503);
    expect(await databaseSnapshot(env.db)).toEqual(before);

    // SNS is back, but the failure is remembered for FAILURE_TTL_MS: still 503, no new fetch.
    hook.fetchAnswer = () => ({ ok: true, status: 200, body: other.certificatePem });
    const failedFetches = hook.fetched.length;
    expect((await post(hook.server, message())).statusCode).toBe(503);
    expect(hook.fetched.length).toBe(failedFetches);

    hook.certClockOffsetMs += FAILURE_TTL_MS;
    const fetchedBefore = hook.fetched.length;
    expect((await post(hook.server, message())).statusCode).toBe(200);
    expect((await post(hook.server, message())).statusCode).toBe(200);
    expect(hook.fetched.slice(fetchedBefore)).toEqual([other.certUrl]);
    // Cached on disk under its URL's digest, beside the certificates installed before.
    const files = await readdir(hook.certDir);
    expect(files).toContain(certCacheFileName(other.certUrl));
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    hook.fetchAnswer = () => new Error('network disabled in tests');
  });

  it('answers 503 when the certificate URL serves something that is not a certificate', async () => {
    const other = await createLocalSnsSigner({ certCacheDir: hook.certDir, install: false });
    hook.fetchAnswer = () => ({ ok: true, status: 200, body: '<html>maintenance</html>' });
    const response = await post(hook.server, other.signedNotification({ topicArn: TOPIC, message: sampleSesEvent('delivery', { to: 'x@example.net' }) }));
    expect(response.statusCode).toBe(503);
    hook.fetchAnswer = () => new Error('network disabled in tests');
  });
});

describe('subscriptions', () => {
  const subscribeUrl = `https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=abc`;

  it('confirms a SubscriptionConfirmation for an allowed topic by visiting SubscribeURL', async () => {
    hook.fetchAnswer = () => ({ ok: true, status: 200, body: '<ConfirmSubscriptionResponse/>' });
    const message = hook.signer.signedSubscriptionConfirmation({ topicArn: TOPIC, subscribeUrl, token: 'abc', signatureVersion: '1' });
    const response = await post(hook.server, message);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'confirmed' });
    expect(hook.fetched.at(-1)).toBe(subscribeUrl);
    const row = await env.db.selectFrom('email_events').select(['sns_type', 'outcome']).where('sns_message_id', '=', message.MessageId).executeTakeFirstOrThrow();
    expect(row).toEqual({ sns_type: 'SubscriptionConfirmation', outcome: 'confirmed' });
    hook.fetchAnswer = () => new Error('network disabled in tests');
  });

  it('refuses a SubscriptionConfirmation for another topic without visiting anything', async () => {
    const fetchedBefore = hook.fetched.length;
    const message = hook.signer.signedSubscriptionConfirmation({ topicArn: OTHER_TOPIC, subscribeUrl, token: 'abc' });
    expect((await post(hook.server, message)).statusCode).toBe(403);
    expect(hook.fetched.length).toBe(fetchedBefore);
  });

  it('refuses a SubscribeURL outside SNS, and a forged signature, without visiting anything', async () => {
    const fetchedBefore = hook.fetched.length;
    const evil = hook.signer.signedSubscriptionConfirmation({ topicArn: TOPIC, subscribeUrl: 'https://attacker.example/confirm', token: 'abc' });
    expect((await post(hook.server, evil)).statusCode).toBe(403);
    const forged = { ...hook.signer.signedSubscriptionConfirmation({ topicArn: TOPIC, subscribeUrl, token: 'abc' }), Token: 'other' };
    expect((await post(hook.server, forged)).statusCode).toBe(403);
    expect(hook.fetched.length).toBe(fetchedBefore);
  });

  it('answers 503 when SubscribeURL cannot be reached, so SNS sends the confirmation again', async () => {
    const message = hook.signer.signedSubscriptionConfirmation({ topicArn: TOPIC, subscribeUrl, token: 'abc' });
    expect((await post(hook.server, message)).statusCode).toBe(503);
  });

  it('records an UnsubscribeConfirmation without resubscribing', async () => {
    const fetchedBefore = hook.fetched.length;
    const message = hook.signer.signedUnsubscribeConfirmation({ topicArn: TOPIC, subscribeUrl, token: 'abc' });
    const response = await post(hook.server, message);
    expect(response.json()).toEqual({ status: 'unsubscribed' });
    expect(hook.fetched.length).toBe(fetchedBefore);
    const row = await env.db.selectFrom('email_events').select('outcome').where('sns_message_id', '=', message.MessageId).executeTakeFirstOrThrow();
    expect(row.outcome).toBe('unsubscribed');
  });
});

describe('database down', () => {
  it('answers 503 so SNS retries', async () => {
    const app = env.app({
      overrides: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/reverify', SNS_TOPIC_ARNS: TOPIC, SNS_CERT_CACHE_DIR: hook.certDir },
    });
    const server = await buildServer(app, { routes: [createWebhookRoutes({ fetch: async () => Promise.reject(new Error('offline')) })] });
    try {
      const response = await post(server, hardBounceFor('x@example.net'));
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ reason: 'unavailable' });
    } finally {
      await server.close();
      await app.close();
    }
  });
});

describe('plugin scope', () => {
  it('reads bodies as text only on the webhook route; other routes keep their parsers', async () => {
    const app = env.app({ overrides: { SNS_TOPIC_ARNS: TOPIC, SNS_CERT_CACHE_DIR: hook.certDir } });
    const echo = async (server: import('fastify').FastifyInstance) => {
      server.post('/echo', async (request) => ({ type: typeof request.body, body: request.body }));
    };
    const server = await buildServer(app, { routes: [createWebhookRoutes(), echo] });
    try {
      const response = await server.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":1}' });
      expect(response.json()).toEqual({ type: 'object', body: { a: 1 } });
    } finally {
      await server.close();
      await app.close();
    }
  });
});
