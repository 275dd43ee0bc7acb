import { CertificateMissingError, CertificateUnavailableError } from './cert-store.js';
import { clip } from '../echo.js';
import { checkSigningCertUrl } from './cert-url.js';
import { parseSnsTimestamp, type SnsMessage } from './sns-message.js';
import { verifySnsSignature } from './sns-signature.js';
import { messageFields, type WebhookContext, type WebhookReply } from './webhook-reply.js';

/**
 * The webhook's first step: is this message SNS's, for one of our topics, and
 * recent? The cheap checks (certificate URL, topic, age) come before the
 * certificate fetch and the signature.
 */

/** SNS timestamps this far ahead of our clock are refused too (clock skew allowance). */
const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** The refusal for a message that is forged, not ours or too old; null when it is genuine. */
export async function verifySnsMessage(ctx: WebhookContext, message: SnsMessage): Promise<WebhookReply | null> {
  return checkEnvelope(ctx, message) ?? (await checkSignature(ctx, message));
}

/** Certificate URL, topic and age: decided from the message alone. */
function checkEnvelope(ctx: WebhookContext, message: SnsMessage): WebhookReply | null {
  const { config, reject } = ctx;
  const fields = messageFields(message);
  const certUrl = checkSigningCertUrl(message.SigningCertURL);
  if (!certUrl.ok) return reject('bad_cert_url', 403, certUrl.problem, fields);
  if (!config.SNS_SIGNATURE_VERSIONS.includes(message.SignatureVersion)) {
    const accepted = config.SNS_SIGNATURE_VERSIONS.join(',');
    return reject('bad_signature_version', 403, `SignatureVersion ${message.SignatureVersion} is not accepted (SNS_SIGNATURE_VERSIONS is ${accepted})`, fields);
  }
  if (!ctx.allowedTopics.has(message.TopicArn)) return reject('bad_topic', 403, `TopicArn ${clip(message.TopicArn)} is not in SNS_TOPIC_ARNS`, fields);
  const ageMs = ctx.clock().getTime() - sentAt(message).getTime();
  if (ageMs > config.SNS_MAX_AGE_SECONDS * 1000) {
    return reject('stale', 403, `Timestamp ${clip(message.Timestamp)} is older than SNS_MAX_AGE_SECONDS (${config.SNS_MAX_AGE_SECONDS})`, fields);
  }
  if (ageMs < -MAX_FUTURE_SKEW_MS) return reject('stale', 403, `Timestamp ${clip(message.Timestamp)} is in the future`, fields);
  return null;
}

/** The signing certificate (fetched or cached), its validity when SNS signed, and the signature. */
async function checkSignature(ctx: WebhookContext, message: SnsMessage): Promise<WebhookReply | null> {
  const { reject } = ctx;
  const fields = messageFields(message);
  let certificate;
  try {
    certificate = await ctx.certificates.certificate(message.SigningCertURL);
  } catch (error) {
    // A certificate the SNS host does not have is a forgery (403, warn); only
    // SNS being unreachable or failing is a 503 that SNS will retry.
    if (error instanceof CertificateMissingError) return reject('bad_cert', 403, error.message, fields);
    if (error instanceof CertificateUnavailableError) return reject('unavailable', 503, error.message, fields);
    throw error;
  }
  // The key must have been valid when SNS signed: an expired (or not yet
  // valid) certificate's key proves nothing, however the signature checks.
  const signedAt = sentAt(message);
  if (signedAt < certificate.validFrom || signedAt > certificate.validTo) {
    const period = `${certificate.validFrom.toISOString()} to ${certificate.validTo.toISOString()}`;
    return reject('bad_certificate', 403, `the SigningCertURL certificate was not valid at the message's Timestamp ${clip(message.Timestamp)} (valid ${period})`, fields);
  }
  if (!verifySnsSignature(message, certificate.key)) return reject('bad_signature', 403, 'Signature does not match the message and its SigningCertURL', fields);
  return null;
}

/** parseSnsMessage has already refused a message whose Timestamp does not parse. */
function sentAt(message: SnsMessage): Date {
  return parseSnsTimestamp(message.Timestamp) as Date;
}
