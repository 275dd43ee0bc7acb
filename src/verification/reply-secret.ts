import { createHash } from 'node:crypto';

/**
 * The secret of a verification mail's reply address, in the spirit of
 * Lamson's confirm module: `v<emailId>-confirm-<secret>@REPLY_DOMAIN`. The
 * target (`v<emailId>`) says what is being confirmed, the secret proves the
 * reply answers our mail.
 *
 * One secret per token: 160 random bits, written in lower-case base32 (mail
 * systems may fold the case of a local part, so the secret must survive it).
 * The link token is derived from it (sha256, base64url: the usual 43
 * characters), so the token row's `token_hash` — sha256 of the link token —
 * is also the stored hash of the reply secret: a reply is checked by the
 * same lookup as a link, and neither secret is stored anywhere. Knowing the
 * token does not reveal the reply secret; both travel in the same mail.
 *
 * The longest local part, for a 19-digit email id, is 1 + 19 + 9 + 32 = 61
 * characters: inside the 64 that RFC 5321 allows.
 */

/** Random bytes a reply secret is made of (160 bits). */
export const REPLY_SECRET_BYTES = 20;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const LOCAL_PART = /^v([1-9]\d{0,18})-confirm-([a-z2-7]{32})$/;

/** Lower-case RFC 4648 base32 of `bytes`, without padding (20 bytes → 32 characters). */
export function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** The link token a reply secret stands for: base64url(sha256(...)), 43 characters like every token. */
export function linkTokenOfReplySecret(secret: string): string {
  return createHash('sha256').update(`reverify-verification-link\0${secret}`, 'utf8').digest('base64url');
}

/** The Reply-To address of a verification mail to address `emailId`, or undefined when REPLY_DOMAIN is not set. */
export function replyAddress(domain: string | undefined, emailId: string, secret: string): string | undefined {
  if (domain === undefined) return undefined;
  return `v${emailId}-confirm-${secret}@${domain}`;
}

/** What a reply address's local part names; null when it is not one of ours. */
export interface ReplyTarget {
  emailId: string;
  secret: string;
}

/** Parses the local part of a reply address (case-insensitively: relays may fold it). */
export function parseReplyLocalPart(localPart: string): ReplyTarget | null {
  const match = LOCAL_PART.exec(localPart.toLowerCase());
  return match ? { emailId: match[1]!, secret: match[2]! } : null;
}
