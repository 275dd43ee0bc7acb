import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { SnsMessage } from './sns-message.js';

/**
 * Records a SubscriptionConfirmation or UnsubscribeConfirmation in
 * email_events (keyed by the SNS MessageId like every message), so an
 * operator can see when and for which topic the subscription changed.
 * Returns false when the same message was already recorded.
 */
export function recordSubscriptionMessage(db: Kysely<Database>, message: SnsMessage, outcome: 'confirmed' | 'unsubscribed'): Promise<boolean> {
  // The Token and SubscribeURL let anyone (re)subscribe: keep them out of the row.
  return recordEnvelope(db, message, { eventType: message.Type, outcome, payload: { Message: message.Message, Timestamp: message.Timestamp } });
}

/**
 * Records a genuine Notification the database refused to store as it is (see
 * the webhook): only the SNS envelope fields already checked, and the error.
 * Returns false when it was already recorded.
 */
export function recordUnstorable(db: Kysely<Database>, message: SnsMessage, problem: string): Promise<boolean> {
  const payload = { problem: problem.replaceAll('\u0000', '').slice(0, 500), Timestamp: message.Timestamp };
  return recordEnvelope(db, message, { eventType: 'Unstorable', outcome: 'unstorable', payload });
}

/** An email_events row from the SNS envelope alone; false when the MessageId is already there. */
async function recordEnvelope(
  db: Kysely<Database>,
  message: SnsMessage,
  row: { eventType: string; outcome: string; payload: Record<string, unknown> },
): Promise<boolean> {
  const inserted = await db
    .insertInto('email_events')
    .values({
      sns_message_id: message.MessageId,
      sns_type: message.Type,
      topic_arn: message.TopicArn,
      event_type: row.eventType,
      outcome: row.outcome,
      payload: JSON.stringify(row.payload),
      occurred_at: new Date(message.Timestamp),
    })
    .onConflict((oc) => oc.constraint('email_events_sns_message_id_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}
