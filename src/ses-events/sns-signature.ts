import { createSign, createVerify, type KeyLike } from 'node:crypto';
import type { SnsMessage } from './sns-message.js';

/**
 * SNS message signatures: the canonical string each message type signs, and
 * its check with the signing certificate. SignatureVersion 1 is SHA1withRSA,
 * 2 is SHA256withRSA, both over the same canonical string.
 */

/** The fields each message type signs, in the order SNS signs them. */
const SIGNED_FIELDS = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
} as const satisfies Record<SnsMessage['Type'], readonly string[]>;

type SignedField = (typeof SIGNED_FIELDS)[SnsMessage['Type']][number];

/** What canonicalString reads: the message type and whichever signed fields are present. */
export type Signable = { readonly Type: SnsMessage['Type'] } & { readonly [F in SignedField]?: string };

/** The string SNS signs: "Name\nvalue\n" for each signed field present (Subject only when set). */
export function canonicalString(message: Signable): string {
  let out = '';
  for (const field of SIGNED_FIELDS[message.Type]) {
    const value = (message as Record<SignedField, string | undefined>)[field];
    if (value === undefined || value === null) continue;
    out += `${field}\n${value}\n`;
  }
  return out;
}

/** The node:crypto algorithm of a SignatureVersion. */
export function signatureAlgorithm(version: '1' | '2'): 'RSA-SHA1' | 'RSA-SHA256' {
  return version === '1' ? 'RSA-SHA1' : 'RSA-SHA256';
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** True when `message.Signature` is the signature of its canonical string by the certificate's key. */
export function verifySnsSignature(message: SnsMessage, publicKey: KeyLike): boolean {
  // Buffer.from skips characters outside base64, so "sig" and "sig " would
  // both verify: only the exact encoding SNS sends is accepted (found by fuzzing).
  if (!STRICT_BASE64.test(message.Signature)) return false;
  const signature = Buffer.from(message.Signature, 'base64');
  if (signature.length === 0) return false;
  const verifier = createVerify(signatureAlgorithm(message.SignatureVersion));
  verifier.update(canonicalString(message), 'utf8');
  try {
    return verifier.verify(publicKey, signature);
  } catch {
    return false;
  }
}

/** Signs a message as SNS would (used by src/dev/sns-signer.ts for tests, benchmarks, chaos and `reverify dev`). */
export function signSnsMessage(message: Signable, version: '1' | '2', privateKey: KeyLike): string {
  const signer = createSign(signatureAlgorithm(version));
  signer.update(canonicalString(message), 'utf8');
  return signer.sign(privateKey, 'base64');
}
