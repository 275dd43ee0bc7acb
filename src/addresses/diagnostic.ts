/**
 * The part of an SES event document that explains it for one address: the
 * bounce's type and the recipient's status, action and diagnostic code (the
 * remote server's own words), or the complaint's feedback type.
 */

export interface Diagnostic {
  bounceType?: string;
  bounceSubType?: string;
  status?: string;
  action?: string;
  code?: string;
  complaintFeedbackType?: string;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** What `payload` says about `address` (lower-cased); empty when it says nothing particular. */
export function diagnosticOf(payload: unknown, address: string): Diagnostic {
  if (!isObject(payload)) return {};
  const result: Diagnostic = {};
  const bounce = payload.bounce;
  if (isObject(bounce)) {
    assign(result, 'bounceType', text(bounce.bounceType));
    assign(result, 'bounceSubType', text(bounce.bounceSubType));
    const recipient = recipientOf(bounce.bouncedRecipients, address);
    assign(result, 'status', text(recipient?.status));
    assign(result, 'action', text(recipient?.action));
    assign(result, 'code', text(recipient?.diagnosticCode));
  }
  const complaint = payload.complaint;
  if (isObject(complaint)) assign(result, 'complaintFeedbackType', text(complaint.complaintFeedbackType));
  return result;
}

function recipientOf(list: unknown, address: string): Json | undefined {
  if (!Array.isArray(list)) return undefined;
  return list.filter(isObject).find((r) => typeof r.emailAddress === 'string' && bareAddress(r.emailAddress) === address);
}

/** `"Name" <a@b.org>` or `a@b.org` → `a@b.org`, lower-cased. */
function bareAddress(value: string): string {
  const angled = /<([^<>]+)>\s*$/.exec(value);
  return (angled?.[1] ?? value).trim().toLowerCase();
}

function assign(target: Diagnostic, key: keyof Diagnostic, value: string | undefined): void {
  if (value !== undefined) target[key] = value;
}
