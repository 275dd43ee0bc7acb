import fc from 'fast-check';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { sampleSesEvent } from '../../src/dev/sample-events.js';
import type { LocalSnsSigner, SignedSnsFields } from '../../src/dev/sns-signer.js';
import { parseSesEvent } from '../../src/ses-events/ses-payload.js';
import { parseSnsMessage, type SnsMessage } from '../../src/ses-events/sns-message.js';
import { verifySnsSignature } from '../../src/ses-events/sns-signature.js';
import {
  ADDRESS_EVENT_KINDS,
  decide,
  REASON_RANK,
  type AddressState,
  type EventFacts,
  type HistoryEntry,
} from '../../src/ses-events/state-machine.js';
import type { WebhookReply } from '../../src/ses-events/webhook.js';

/**
 * Property-based fuzzing of what the webhook does with input it cannot
 * trust: the SNS envelope parser, the signature check, the SES payload
 * parser, the whole webhook (refusals and genuine messages with random field
 * values), and the address state machine over random event sequences. Run
 * bounded in `npm test` (test/fuzz/fuzz.test.ts) and long in
 * `npm run chaos -- fuzz`. A counterexample's seed and path go to
 * regressions.json and are replayed by every later run.
 */

export type PropertyName = 'sns-parse' | 'ses-parse' | 'signature' | 'webhook' | 'state-machine';

export interface Regression {
  readonly property: PropertyName;
  readonly seed: number;
  readonly path: string;
  readonly found: string;
  readonly note: string;
}

export const REGRESSIONS_FILE = fileURLToPath(new URL('./regressions.json', import.meta.url));

export async function readRegressions(): Promise<Regression[]> {
  return JSON.parse(await readFile(REGRESSIONS_FILE, 'utf8')) as Regression[];
}

/** Appends a counterexample so every later run replays it. */
export async function keepRegression(regression: Regression): Promise<void> {
  const kept = await readRegressions();
  if (kept.some((r) => r.property === regression.property && r.seed === regression.seed && r.path === regression.path)) return;
  await writeFile(REGRESSIONS_FILE, `${JSON.stringify([...kept, regression], null, 2)}\n`, 'utf8');
}

/** What the signature covers (the canonical string, its algorithm and the signature itself)... */
const SIGNED_FIELDS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type', 'SignatureVersion', 'Signature'] as const;
/** ...and what the webhook checks besides: the certificate named. */
const CHECKED_FIELDS = [...SIGNED_FIELDS, 'SigningCertURL'] as const;

/** Any value JSON can hold, small. */
const jsonValue = fc.jsonValue({ maxDepth: 3 });

/** Bodies: arbitrary text, arbitrary JSON, and SNS-shaped objects whose fields hold anything. */
const snsLikeBody = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.json({ maxDepth: 3 }),
  fc
    .record(
      Object.fromEntries(
        [...CHECKED_FIELDS, 'Token', 'SubscribeURL', 'UnsubscribeURL'].map((field) => [field, fc.oneof(fc.string({ maxLength: 60 }), jsonValue)]),
      ),
      { requiredKeys: [] },
    )
    .map((record) => JSON.stringify(record)),
);

/** The SNS envelope parser: total (a result, never a throw), and an accepted message has every required field. */
export function snsParseProperty() {
  return fc.property(snsLikeBody, (body) => {
    const result = parseSnsMessage(body);
    if (!result.ok) return typeof result.problem === 'string' && result.problem.length > 0;
    return ['Type', 'MessageId', 'TopicArn', 'Message', 'Timestamp', 'Signature', 'SigningCertURL'].every(
      (field) => typeof (result.message as unknown as Record<string, unknown>)[field] === 'string',
    );
  });
}

/** SES documents: random JSON, SES-shaped documents with random parts, and sample events of every kind. */
const sesLikeMessage = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.json({ maxDepth: 4 }),
  fc
    .record({
      eventType: fc.oneof(fc.constantFrom('Bounce', 'Complaint', 'Delivery', 'Send', 'Reject', 'DeliveryDelay', 'Open'), jsonValue),
      notificationType: fc.oneof(fc.constantFrom('Bounce', 'Complaint', 'Delivery'), jsonValue),
      mail: fc.oneof(jsonValue, fc.record({ messageId: jsonValue, timestamp: jsonValue, destination: jsonValue, tags: jsonValue }, { requiredKeys: [] })),
      bounce: fc.oneof(jsonValue, fc.record({ bounceType: jsonValue, bounceSubType: jsonValue, bouncedRecipients: jsonValue, timestamp: jsonValue }, { requiredKeys: [] })),
      complaint: jsonValue,
      delivery: jsonValue,
    }, { requiredKeys: [] })
    .map((document) => JSON.stringify(document)),
  fc.tuple(fc.constantFrom(...ADDRESS_EVENT_KINDS), fc.emailAddress()).map(([kind, to]) => sampleSesEvent(kind, { to })),
);

/** The SES payload parser is total: every document gives an event with a type. */
export function sesParseProperty() {
  return fc.property(sesLikeMessage, (message) => {
    const event = parseSesEvent(message);
    return typeof event.type === 'string' && typeof event.payloadJson === 'string';
  });
}

/** One change to a signed message: a field replaced, cut, extended, or a character flipped. */
const mutation = fc.record({
  field: fc.constantFrom(...CHECKED_FIELDS),
  how: fc.constantFrom('replace', 'truncate', 'append', 'flip', 'delete'),
  text: fc.string({ minLength: 1, maxLength: 40 }),
  at: fc.nat(),
});

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(message: SignedSnsFields, change: Mutation): Record<string, string> {
  const out: Record<string, string> = { ...message };
  const value = out[change.field] ?? '';
  const at = value.length === 0 ? 0 : change.at % value.length;
  if (change.how === 'delete') delete out[change.field];
  else if (change.how === 'replace') out[change.field] = change.text;
  else if (change.how === 'truncate') out[change.field] = value.slice(0, at);
  else if (change.how === 'append') out[change.field] = value + change.text;
  else out[change.field] = value.slice(0, at) + String.fromCharCode(((value.charCodeAt(at) || 64) ^ 1) & 0xffff) + value.slice(at + 1);
  return out;
}

/** A genuine notification with random field values (the topic is the allowed one). */
function genuineArbitrary(signer: LocalSnsSigner, topicArn: string) {
  return fc
    .record({
      // SNS never sends an empty Message (the parser refuses one as malformed).
      message: fc.oneof(sesLikeMessage, fc.string({ maxLength: 200 })).filter((text) => text.length > 0),
      messageId: fc.string({ minLength: 1, maxLength: 80 }).filter((id) => !/[\u0000-\u001f]/.test(id)), // eslint-disable-line no-control-regex
      subject: fc.option(fc.string({ maxLength: 80 }), { nil: undefined }),
      version: fc.constantFrom('1' as const, '2' as const),
      ageMs: fc.integer({ min: 0, max: 3_000_000 }),
    })
    .map(({ message, messageId, subject, version, ageMs }) =>
      signer.signedNotification({ topicArn, message, messageId, subject, signatureVersion: version, timestamp: new Date(Date.now() - ageMs) }),
    );
}

/** The signature check never throws, accepts the signed message, and refuses every change to a signed field. */
export function signatureProperty(signer: LocalSnsSigner, topicArn: string, publicKey: Parameters<typeof verifySnsSignature>[1]) {
  return fc.property(genuineArbitrary(signer, topicArn), mutation, (message, change) => {
    if (!verifySnsSignature(message as unknown as SnsMessage, publicKey)) return false;
    const mutated = mutate(message, change);
    const parsed = parseSnsMessage(JSON.stringify(mutated));
    if (!parsed.ok) return true;
    const unchanged = SIGNED_FIELDS.every((field) => mutated[field] === message[field]);
    return verifySnsSignature(parsed.message, publicKey) === unchanged;
  });
}

export interface WebhookTarget {
  handle(request: { messageTypeHeader: string | undefined; body: string }): Promise<WebhookReply>;
}

/** The whole webhook: a genuine message is processed (200), any mutation of it is refused with a 4xx; nothing throws or answers 5xx. */
export function webhookProperty(webhook: WebhookTarget, signer: LocalSnsSigner, topicArn: string) {
  return fc.asyncProperty(genuineArbitrary(signer, topicArn), fc.option(mutation, { nil: undefined }), async (message, change) => {
    const body = change === undefined ? message : mutate(message, change);
    const reply = await webhook.handle({ messageTypeHeader: typeof body.Type === 'string' ? body.Type : undefined, body: JSON.stringify(body) });
    if (reply.status >= 500) throw new Error(`answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    const unchanged = CHECKED_FIELDS.every((field) => body[field] === message[field]);
    if (unchanged) return reply.status === 200;
    return reply.status >= 400 && reply.status < 500;
  });
}

const instant = fc.option(fc.date({ min: new Date('2024-01-01T00:00:00Z'), max: new Date('2027-01-01T00:00:00Z'), noInvalidDate: true }), { nil: null });

const addressState = fc.record({
  verified: fc.boolean(),
  verifiedAt: instant,
  reason: fc.constantFrom(null, 'hard_bounce', 'soft_bounce', 'complaint', 'manual') as fc.Arbitrary<AddressState['reason']>,
  transientBounces: fc.nat({ max: 10 }),
  suppression: fc.constantFrom(null, 'hard_bounce', 'soft_bounce', 'complaint', 'manual') as fc.Arbitrary<AddressState['suppression']>,
});

const eventFacts: fc.Arbitrary<EventFacts> = fc.record({
  kind: fc.constantFrom(...ADDRESS_EVENT_KINDS),
  sesMessageId: fc.option(fc.constantFrom('m1', 'm2', 'm3', 'm4'), { nil: null }),
  occurredAt: instant,
});

const OUTCOMES = new Set(['applied', 'repeat', 'out_of_office', 'superseded', 'stale', 'recorded']);
const rank = (reason: AddressState['reason'] | AddressState['suppression']) => (reason === null ? 0 : (REASON_RANK as Record<string, number>)[reason] ?? 0);

/**
 * The state machine is total over any start state and event sequence: every
 * step decides (no throw, a known outcome), the count stays a whole number
 * ≥ 0, nothing sets verified, and reasons and suppressions only get stronger.
 */
export function stateMachineProperty() {
  return fc.property(addressState, fc.array(eventFacts, { maxLength: 25 }), fc.integer({ min: 1, max: 6 }), (start, events, limit) => {
    let state: AddressState = start;
    const history: HistoryEntry[] = [];
    for (const event of events) {
      const decision = decide(state, event, history, limit);
      const next = decision.next;
      if (!OUTCOMES.has(decision.outcome)) return false;
      if (!Number.isInteger(next.transientBounces) || next.transientBounces < 0) return false;
      if (next.verified && !state.verified) return false;
      if (rank(next.reason) < rank(state.reason) || rank(next.suppression) < rank(state.suppression)) return false;
      if (event.sesMessageId !== null) history.push({ sesMessageId: event.sesMessageId, kind: event.kind, outcome: decision.outcome, occurredAt: event.occurredAt });
      state = next;
    }
    return true;
  });
}
