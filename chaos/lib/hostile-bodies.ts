import { randomBytes, randomUUID } from 'node:crypto';
import type { LocalSnsSigner } from '../../src/dev/sns-signer.js';
import { sampleSesEvent } from '../../src/dev/sample-events.js';
import { CHAOS_TOPIC_ARN } from './env.js';

/** A body the webhook must refuse without changing anything. */
export interface HostileBody {
  kind: string;
  body: string | Buffer;
  type: string | undefined;
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const OTHER_TOPIC = 'arn:aws:sns:us-east-1:123456789012:someone-elses-topic';

/** Builds hostile bodies of every kind, round-robin, from a pool of genuine signed messages to damage. */
export function hostileBodies(signer: LocalSnsSigner, count: number, addresses: readonly string[]): HostileBody[] {
  const genuine = () => {
    const message = sampleSesEvent(pick(['hard_bounce', 'complaint', 'soft_bounce', 'delivery'] as const), { to: pick(addresses) });
    return signer.signedNotification({ topicArn: CHAOS_TOPIC_ARN, message, signatureVersion: pick(['1', '2'] as const) });
  };
  const makers: Array<() => HostileBody> = [
    () => ({ kind: 'random bytes', body: randomBytes(Math.floor(Math.random() * 4096)), type: 'Notification' }),
    () => ({ kind: 'random text', body: randomBytes(64 + Math.floor(Math.random() * 2048)).toString('latin1'), type: pick(['Notification', undefined, 'x']) }),
    () => {
      const text = JSON.stringify(genuine());
      return { kind: 'truncated signed message', body: text.slice(0, Math.floor(Math.random() * (text.length - 1))), type: 'Notification' };
    },
    () => {
      const signed = genuine();
      // UnsubscribeURL is not among the signed fields of a Notification, so changing it forges nothing.
      const field = pick(['Message', 'MessageId', 'Timestamp', 'Signature', 'SignatureVersion', 'Subject', 'TopicArn'] as const);
      const value = signed[field] ?? '';
      if (field === 'Timestamp') signed.Timestamp = new Date(Date.parse(value) - 1000).toISOString();
      else if (field === 'SignatureVersion') signed.SignatureVersion = value === '1' ? '2' : '1';
      else if (field === 'Signature') signed.Signature = `${value.slice(0, 10)}${value[10] === 'A' ? 'B' : 'A'}${value.slice(11)}`;
      else if (field === 'Message') signed.Message = value.replace(/bounce|Complaint|delivery/i, (m) => m.toUpperCase()).replace(/"w(\d+)@/, '"w1$1@');
      else signed[field] = `${value}x`;
      return { kind: `signed message with ${field} changed`, body: JSON.stringify(signed), type: 'Notification' };
    },
    () => {
      const message = sampleSesEvent('complaint', { to: pick(addresses) });
      return { kind: 'valid signature, wrong topic', body: JSON.stringify(signer.signedNotification({ topicArn: OTHER_TOPIC, message })), type: 'Notification' };
    },
    () => {
      const message = sampleSesEvent('hard_bounce', { to: pick(addresses) });
      const old = new Date(Date.now() - (3600 + 60 + Math.random() * 86_400) * 1000);
      return { kind: 'valid signature, stale timestamp', body: JSON.stringify(signer.signedNotification({ topicArn: CHAOS_TOPIC_ARN, message, timestamp: old })), type: 'Notification' };
    },
    () => {
      const message = sampleSesEvent('hard_bounce', { to: pick(addresses) });
      const certUrl = pick([
        'https://evil.example.com/SimpleNotificationService-abc.pem',
        'http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem',
        'https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-abc.pem',
        'https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-abc.pem',
        'https://user:pw@sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem',
        'file:///etc/passwd',
      ]);
      const fields = { Type: 'Notification', MessageId: randomUUID(), TopicArn: CHAOS_TOPIC_ARN, Message: message, Timestamp: new Date().toISOString(), SigningCertURL: certUrl };
      return { kind: 'signed with a foreign certificate URL', body: JSON.stringify(signer.sign(fields)), type: 'Notification' };
    },
    () => ({ kind: 'over 256 KiB', body: JSON.stringify({ ...genuine(), Padding: 'x'.repeat(262_144 + Math.floor(Math.random() * 100_000)) }), type: 'Notification' }),
    () => {
      const depth = 20_000 + Math.floor(Math.random() * 100_000);
      return { kind: 'deeply nested JSON', body: pick([`${'['.repeat(depth)}${']'.repeat(depth)}`, `${'{"a":'.repeat(depth / 5)}1${'}'.repeat(depth / 5)}`]), type: 'Notification' };
    },
    () => ({ kind: 'huge unsigned JSON', body: JSON.stringify({ ...genuine(), Message: JSON.stringify({ notificationType: 'Bounce', big: 'y'.repeat(200_000) }), Signature: 'AAAA' }), type: 'Notification' }),
    () => ({ kind: 'header and body disagree', body: JSON.stringify(genuine()), type: pick(['SubscriptionConfirmation', 'UnsubscribeConfirmation', undefined, 'notification']) }),
    () => {
      const signed: Record<string, unknown> = { ...genuine() };
      const field = pick(['Type', 'MessageId', 'TopicArn', 'Message', 'Timestamp', 'Signature', 'SigningCertURL', 'SignatureVersion']);
      signed[field] = pick([null, 42, [], {}, true, '', ['x'], { $ne: null }]);
      return { kind: 'fields of the wrong type', body: JSON.stringify(signed), type: 'Notification' };
    },
    () => ({ kind: 'prototype pollution', body: `{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}},"Type":"Notification"}`, type: 'Notification' }),
    () => {
      const signed = genuine();
      signed.Message = signed.Message!.replace(/@chaos/, '\u0000@chaos');
      return { kind: 'NUL byte in a forged message', body: JSON.stringify(signed), type: 'Notification' };
    },
    () => {
      const fields = { Type: 'SubscriptionConfirmation', MessageId: randomUUID(), Token: randomUUID(), TopicArn: OTHER_TOPIC, Message: 'subscribe', SubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription', Timestamp: new Date().toISOString() };
      return { kind: 'subscription for a foreign topic', body: JSON.stringify(signer.sign(fields)), type: 'SubscriptionConfirmation' };
    },
    () => {
      const fields = { Type: 'SubscriptionConfirmation', MessageId: randomUUID(), Token: randomUUID(), TopicArn: CHAOS_TOPIC_ARN, Message: 'subscribe', SubscribeURL: pick(['https://evil.example.com/confirm', 'http://169.254.169.254/latest/meta-data/', 'https://sns.us-east-1.amazonaws.com.evil.example/x']), Timestamp: new Date().toISOString() };
      return { kind: 'subscription to a foreign SubscribeURL', body: JSON.stringify(signer.sign(fields)), type: 'SubscriptionConfirmation' };
    },
    () => {
      const signed = genuine();
      return { kind: 'unsigned copy (Signature removed)', body: JSON.stringify({ ...signed, Signature: undefined }), type: 'Notification' };
    },
  ];
  return Array.from({ length: count }, (_, i) => makers[i % makers.length]!());
}

/** Genuine messages with hostile contents, signed and on the right topic: they are SES's word and must not crash anything. */
export function signedHostileContent(signer: LocalSnsSigner, count: number): Array<{ body: string; type: string; snsMessageId: string }> {
  const nasty = ["x'; DROP TABLE emails; --@example.org", 'nul\u0000@chaos.example.org', `${'a'.repeat(5000)}@example.org`, 'Ωμέγα@例え.jp', '', '   ', '<script>@x.org'];
  return Array.from({ length: count }, (_, i) => {
    const kind = pick(['hard_bounce', 'complaint', 'soft_bounce', 'delivery', 'unknown'] as const);
    let message = sampleSesEvent(kind, { to: nasty[i % nasty.length]! });
    if (i % 5 === 4) message = JSON.stringify({ notificationType: 'Bounce', bounce: { bouncedRecipients: 'not-an-array', bounceType: 42 }, mail: null });
    if (i % 7 === 6) message = 'not json at all \u0000';
    const snsMessageId = randomUUID();
    const signed = signer.signedNotification({ topicArn: CHAOS_TOPIC_ARN, message, messageId: snsMessageId });
    return { body: JSON.stringify(signed), type: 'Notification', snsMessageId };
  });
}
