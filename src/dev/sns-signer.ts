import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generate } from 'selfsigned';
import { certCacheFileName } from '../ses-events/cert-store.js';
import { signSnsMessage, type Signable } from '../ses-events/sns-signature.js';

/**
 * Signs SNS messages locally with a self-made certificate, placed in the
 * certificate cache under the name the webhook looks for, so the webhook
 * accepts them without any network. Used by tests, the benchmark, the chaos
 * suite and the `reverify dev` SES event simulator; never by the webhook.
 */

export interface LocalNotificationInput {
  topicArn: string;
  message: string;
  messageId?: string;
  timestamp?: Date;
  signatureVersion?: '1' | '2';
  subject?: string;
}

export interface LocalSubscriptionInput {
  topicArn: string;
  subscribeUrl: string;
  token: string;
  messageId?: string;
  timestamp?: Date;
  signatureVersion?: '1' | '2';
  message?: string;
}

/** A signed SNS message as SNS posts it (the JSON body), with the fields every type has. */
export type SignedSnsFields = Record<string, string> & {
  Type: string;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: string;
  Signature: string;
  SigningCertURL: string;
};

export interface LocalSnsSigner {
  /** The SigningCertURL the messages name (a valid SNS certificate URL). */
  readonly certUrl: string;
  readonly certificatePem: string;
  signedNotification(input: LocalNotificationInput): SignedSnsFields;
  signedSubscriptionConfirmation(input: LocalSubscriptionInput): SignedSnsFields;
  signedUnsubscribeConfirmation(input: LocalSubscriptionInput): SignedSnsFields;
  /** Signs arbitrary fields as given (tests use it to build messages the webhook must refuse). */
  sign(fields: Record<string, string>, signatureVersion?: '1' | '2'): SignedSnsFields;
}

export interface LocalSnsSignerOptions {
  certCacheDir: string;
  region?: string;
  certUrl?: string;
  install?: boolean;
  /** The certificate's validity (default: from a day ago for a year). */
  notBefore?: Date;
  notAfter?: Date;
}

/**
 * Makes a key pair and self-signed certificate and writes the certificate to
 * `certCacheDir` as `<sha256 of certUrl>.pem`. `certUrl` defaults to a fresh
 * `https://sns.<region>.amazonaws.com/SimpleNotificationService-<random>.pem`;
 * `install: false` skips writing the cache (a signer whose key nobody trusts).
 */
export async function createLocalSnsSigner(options: LocalSnsSignerOptions): Promise<LocalSnsSigner> {
  const region = options.region ?? 'us-east-1';
  const certUrl = options.certUrl ?? `https://sns.${region}.amazonaws.com/SimpleNotificationService-${randomBytes(16).toString('hex')}.pem`;
  const pems = await makeCertificate(region, options);
  if (options.install !== false) {
    await mkdir(options.certCacheDir, { recursive: true });
    await writeFile(path.join(options.certCacheDir, certCacheFileName(certUrl)), pems.cert, 'utf8');
  }
  const sign = signerFor(pems.private, certUrl);
  return {
    certUrl,
    certificatePem: pems.cert,
    sign,
    signedNotification: (input) => sign(notificationFields(input, region), input.signatureVersion),
    signedSubscriptionConfirmation: (input) => sign(subscriptionFields('SubscriptionConfirmation', input), input.signatureVersion),
    signedUnsubscribeConfirmation: (input) => sign(subscriptionFields('UnsubscribeConfirmation', input), input.signatureVersion),
  };
}

/** A self-signed certificate named like SNS's for the region, and its private key. */
function makeCertificate(region: string, options: LocalSnsSignerOptions): Promise<{ cert: string; private: string }> {
  const notBefore = options.notBefore ?? new Date(Date.now() - 86_400_000);
  const notAfter = options.notAfter ?? new Date(Date.now() + 365 * 86_400_000);
  return generate([{ name: 'commonName', value: `sns.${region}.amazonaws.com` }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
  });
}

/** Signs fields as given, naming `certUrl` unless they name a SigningCertURL of their own. */
function signerFor(privateKey: string, certUrl: string): LocalSnsSigner['sign'] {
  return (fields, version = '2') => {
    const unsigned: Record<string, string> = { ...fields, SignatureVersion: version, SigningCertURL: fields.SigningCertURL ?? certUrl };
    const type = unsigned.Type as Signable['Type'];
    return { ...unsigned, Signature: signSnsMessage({ ...unsigned, Type: type }, version, privateKey) } as SignedSnsFields;
  };
}

function notificationFields(input: LocalNotificationInput, region: string): Record<string, string> {
  const fields: Record<string, string> = {
    Type: 'Notification',
    MessageId: input.messageId ?? randomUUID(),
    TopicArn: input.topicArn,
    Message: input.message,
    Timestamp: (input.timestamp ?? new Date()).toISOString(),
    UnsubscribeURL: `https://sns.${region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${input.topicArn}:${randomUUID()}`,
  };
  if (input.subject !== undefined) fields.Subject = input.subject;
  return fields;
}

function subscriptionFields(type: 'SubscriptionConfirmation' | 'UnsubscribeConfirmation', input: LocalSubscriptionInput): Record<string, string> {
  return {
    Type: type,
    MessageId: input.messageId ?? randomUUID(),
    Token: input.token,
    TopicArn: input.topicArn,
    Message:
      input.message ??
      (type === 'SubscriptionConfirmation'
        ? `You have chosen to subscribe to the topic ${input.topicArn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`
        : `You have chosen to deactivate subscription to the topic ${input.topicArn}.`),
    SubscribeURL: input.subscribeUrl,
    Timestamp: (input.timestamp ?? new Date()).toISOString(),
  };
}
