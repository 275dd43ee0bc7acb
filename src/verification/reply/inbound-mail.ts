import { parseReplyLocalPart, type ReplyTarget } from '../reply-secret.js';

/**
 * Reads what a reply decision needs from an SES inbound notification
 * (`notificationType: "Received"`): the reply address it was sent to, the
 * From address, and SES's receipt verdicts. Only the notification's `mail`
 * and `receipt` parts are read — never the content, which an S3 action does
 * not even carry. Never throws: what is missing is said by the result.
 */

type Json = Record<string, unknown>;

export type VerdictStatus = 'PASS' | 'FAIL' | 'GRAY' | 'PROCESSING_FAILED' | 'DISABLED' | 'MISSING';

export interface Verdicts {
  spf: VerdictStatus;
  dkim: VerdictStatus;
  dmarc: VerdictStatus;
  spam: VerdictStatus;
  virus: VerdictStatus;
}

export interface InboundMail {
  sesMessageId: string | null;
  /** The reply address's target and secret, when one of the recipients is ours. */
  target: ReplyTarget | null;
  /** Every From address the headers give (one, in a well-formed reply). */
  from: string[];
  verdicts: Verdicts;
  /** SNS (content included) or S3 (stored in a bucket; headers only here). */
  actionType: string | null;
}

/** Whether an SNS Notification's Message is an SES inbound mail notification. */
export function isReceivedNotification(message: string): boolean {
  if (!message.includes('Received')) return false;
  try {
    const document: unknown = JSON.parse(message);
    return isObject(document) && document.notificationType === 'Received';
  } catch {
    return false;
  }
}

/** Parses the Message of a Received notification; recipients are matched against `replyDomain`. */
export function parseInboundMail(message: string, replyDomain: string | undefined): InboundMail {
  let document: Json = {};
  try {
    const parsed: unknown = JSON.parse(message);
    if (isObject(parsed)) document = parsed;
  } catch {
    // Refused below for what is missing.
  }
  const mail = obj(document.mail);
  const receipt = obj(document.receipt);
  const recipients = [...strings(receipt.recipients), ...strings(mail.destination)];
  return {
    sesMessageId: typeof mail.messageId === 'string' ? mail.messageId : null,
    target: replyTargetOf(recipients, replyDomain),
    from: fromAddresses(mail),
    verdicts: {
      spf: verdict(receipt.spfVerdict),
      dkim: verdict(receipt.dkimVerdict),
      dmarc: verdict(receipt.dmarcVerdict),
      spam: verdict(receipt.spamVerdict),
      virus: verdict(receipt.virusVerdict),
    },
    actionType: typeof obj(receipt.action).type === 'string' ? (obj(receipt.action).type as string) : null,
  };
}

/** Why SES's verdicts refuse the reply, or null: spam and virus not FAIL, SPF or DKIM PASS, DMARC not FAIL. */
export function verdictRefusal(verdicts: Verdicts): string | null {
  if (verdicts.virus === 'FAIL') return 'virus_verdict_fail';
  if (verdicts.spam === 'FAIL') return 'spam_verdict_fail';
  if (verdicts.spf !== 'PASS' && verdicts.dkim !== 'PASS') return 'spf_and_dkim_not_pass';
  if (verdicts.dmarc === 'FAIL') return 'dmarc_fail';
  return null;
}

/** Whether `from` is `stored`: the local part exactly as stored, the domain in any case. */
export function sameAddress(from: string, stored: string): boolean {
  const [fromLocal, fromDomain] = splitAddress(from);
  const [storedLocal, storedDomain] = splitAddress(stored);
  return fromLocal === storedLocal && fromDomain.toLowerCase() === storedDomain.toLowerCase();
}

function splitAddress(address: string): [string, string] {
  const at = address.lastIndexOf('@');
  return at < 0 ? [address, ''] : [address.slice(0, at), address.slice(at + 1)];
}

function replyTargetOf(recipients: string[], replyDomain: string | undefined): ReplyTarget | null {
  if (replyDomain === undefined) return null;
  for (const recipient of recipients) {
    const [local, domain] = splitAddress(bareAddress(recipient));
    if (domain.toLowerCase() !== replyDomain) continue;
    const target = parseReplyLocalPart(local);
    if (target) return target;
  }
  return null;
}

/** The From addresses: SES's parsed commonHeaders.from, or else the raw From header. */
function fromAddresses(mail: Json): string[] {
  const common = strings(obj(mail.commonHeaders).from);
  const raw = common.length > 0 ? common : list(mail.headers).map(obj).filter((h) => String(h.name).toLowerCase() === 'from').flatMap((h) => strings(h.value));
  return raw.flatMap(splitHeaderList).map(bareAddress).filter((address) => address.includes('@'));
}

/** "A <a@x>, b@y" → ["A <a@x>", "b@y"], not splitting inside quotes or angle brackets. */
function splitHeaderList(value: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let angle = 0;
  for (const char of value) {
    if (char === '"') quoted = !quoted;
    else if (!quoted && char === '<') angle += 1;
    else if (!quoted && char === '>') angle = Math.max(0, angle - 1);
    if (char === ',' && !quoted && angle === 0) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts.map((part) => part.trim()).filter(Boolean);
}

/** "Name <a@b>" → "a@b"; a bare address as it is. */
function bareAddress(value: string): string {
  const match = /<([^<>]*)>\s*$/.exec(value);
  return (match?.[1] ?? value).trim();
}

const STATUSES = new Set(['PASS', 'FAIL', 'GRAY', 'PROCESSING_FAILED', 'DISABLED']);

function verdict(value: unknown): VerdictStatus {
  const status = obj(value).status;
  return typeof status === 'string' && STATUSES.has(status.toUpperCase()) ? (status.toUpperCase() as VerdictStatus) : 'MISSING';
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
function obj(value: unknown): Json {
  return isObject(value) ? value : {};
}
function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return list(value).filter((item): item is string => typeof item === 'string');
}
