import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkSigningCertUrl, checkSubscribeUrl } from '../../src/ses-events/cert-url.js';
import { certCacheFileName } from '../../src/ses-events/cert-store.js';
import { parseSnsMessage } from '../../src/ses-events/sns-message.js';
import { canonicalString, signSnsMessage, verifySnsSignature } from '../../src/ses-events/sns-signature.js';

describe('canonical string', () => {
  it('for a Notification signs Message, MessageId, Subject, Timestamp, TopicArn, Type in order', () => {
    expect(
      canonicalString({ Type: 'Notification', MessageId: 'm', TopicArn: 't', Message: 'hello', Timestamp: 'ts', Subject: 's', UnsubscribeURL: 'u' } as never),
    ).toBe('Message\nhello\nMessageId\nm\nSubject\ns\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n');
  });

  it('leaves Subject out when the notification has none', () => {
    expect(canonicalString({ Type: 'Notification', MessageId: 'm', TopicArn: 't', Message: 'x', Timestamp: 'ts' })).toBe(
      'Message\nx\nMessageId\nm\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n',
    );
  });

  it.each(['SubscriptionConfirmation', 'UnsubscribeConfirmation'] as const)('for %s signs SubscribeURL and Token', (type) => {
    expect(canonicalString({ Type: type, MessageId: 'm', TopicArn: 't', Message: 'x', Timestamp: 'ts', Token: 'k', SubscribeURL: 'u' })).toBe(
      `Message\nx\nMessageId\nm\nSubscribeURL\nu\nTimestamp\nts\nToken\nk\nTopicArn\nt\nType\n${type}\n`,
    );
  });
});

describe('signature check', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const base = {
    Type: 'Notification' as const,
    MessageId: 'm-1',
    TopicArn: 'arn:aws:sns:us-east-1:123456789012:t',
    Message: '{}',
    Timestamp: '2026-01-01T00:00:00.000Z',
    SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-a.pem',
  };

  it.each(['1', '2'] as const)('accepts version %s and refuses the other algorithm, another key and a changed field', (version) => {
    const signed = { ...base, SignatureVersion: version, Signature: signSnsMessage(base, version, privateKey) };
    expect(verifySnsSignature(signed, publicKey)).toBe(true);
    expect(verifySnsSignature({ ...signed, SignatureVersion: version === '1' ? '2' : '1' }, publicKey)).toBe(false);
    expect(verifySnsSignature(signed, other.publicKey)).toBe(false);
    expect(verifySnsSignature({ ...signed, Message: '{ }' }, publicKey)).toBe(false);
    expect(verifySnsSignature({ ...signed, Signature: '' }, publicKey)).toBe(false);
  });
});

describe('SNS message shape', () => {
  it('says what is wrong with a body', () => {
    expect(parseSnsMessage('nope')).toEqual({ ok: false, problem: 'body is not JSON' });
    expect(parseSnsMessage('{"Type":"Notification"}')).toMatchObject({ ok: false, problem: 'MessageId is missing or not a string' });
    const complete = { Type: 'Notification', MessageId: 'm', TopicArn: 't', Message: 'x', Timestamp: 'yesterday', SignatureVersion: '1', Signature: 's', SigningCertURL: 'u' };
    expect(parseSnsMessage(JSON.stringify(complete))).toMatchObject({ ok: false, problem: 'Timestamp is not an ISO 8601 time' });
    expect(parseSnsMessage(JSON.stringify({ ...complete, Timestamp: '2026-01-01T00:00:00Z', SignatureVersion: '3' }))).toMatchObject({ ok: false });
    expect(parseSnsMessage(JSON.stringify({ ...complete, Timestamp: '2026-01-01T00:00:00Z', Type: 'SubscriptionConfirmation' }))).toMatchObject({
      ok: false,
      problem: 'SubscriptionConfirmation needs Token and SubscribeURL',
    });
    expect(parseSnsMessage(JSON.stringify({ ...complete, Timestamp: '2026-01-01T00:00:00Z' }))).toMatchObject({ ok: true });
  });
});

describe('certificate URL check', () => {
  it.each([
    'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem',
    'https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-abc.pem',
    'https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem',
  ])('accepts %s', (url) => {
    expect(checkSigningCertUrl(url).ok).toBe(true);
  });

  it.each([
    'http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem',
    'https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-abc.pem',
    'https://evil.example/sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem',
    'https://sns.us-east-1.amazonaws.com@evil.example/SimpleNotificationService-abc.pem',
    'https://user@sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem',
    'https://sns.amazonaws.com/SimpleNotificationService-abc.pem',
    'https://s3.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem',
    'https://sns.us-east-1.amazonaws.com/other/SimpleNotificationService-abc.pem',
    'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem?x=1',
    'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-.pem',
    'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem.exe',
    'https://sns.us-east-1.amazonaws.com:444/SimpleNotificationService-abc.pem',
    'not a url',
  ])('refuses %s', (url) => {
    expect(checkSigningCertUrl(url).ok).toBe(false);
  });

  it('allows SubscribeURL only on an SNS host over https', () => {
    expect(checkSubscribeUrl('https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=x').ok).toBe(true);
    expect(checkSubscribeUrl('http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription').ok).toBe(false);
    expect(checkSubscribeUrl('https://example.org/?Action=ConfirmSubscription').ok).toBe(false);
  });

  it('names cache files by the sha256 of the URL', () => {
    expect(certCacheFileName('https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem')).toMatch(/^[0-9a-f]{64}\.pem$/);
  });
});
