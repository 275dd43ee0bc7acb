import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import { confirmVerification } from '../confirm.js';
import { linkTokenOfReplySecret } from '../reply-secret.js';
import { hashToken, tokenState } from '../tokens.js';
import { sameAddress, verdictRefusal, type InboundMail } from './inbound-mail.js';

/**
 * Verification by reply. A reply confirms its address only when every check
 * holds: the reply address's secret belongs to an unexpired, unused token
 * whose address is the reply address's target; the From header is that
 * token's address (local part exact, domain in any case); SES's verdicts show
 * SPF or DKIM PASS, DMARC not FAIL, spam and virus not FAIL. It then does
 * exactly what POST /verify/:token does (confirmVerification), with the audit
 * channel `reply`. Every notification is recorded in inbound_replies, in the
 * same transaction as its effects; a refused one changes nothing else. The
 * SNS MessageId, and SES's MessageId of the received mail, make a replay a duplicate.
 */

export interface ReplyResult {
  duplicate: boolean;
  outcome: 'verified' | 'refused';
  /** Why a reply was refused (or `already_verified` for a reply that confirmed an address verified meanwhile). */
  reason: string | null;
  emailId: string | null;
}

export interface InboundReply {
  snsMessageId: string;
  mail: InboundMail;
  receivedAt: Date;
}

/** Records and applies one inbound reply; see the module comment. */
export function applyInboundReply(db: Kysely<Database>, reply: InboundReply): Promise<ReplyResult> {
  return db.transaction().execute(async (trx): Promise<ReplyResult> => {
    const { mail } = reply;
    const recorded = await trx
      .insertInto('inbound_replies')
      .values({
        sns_message_id: reply.snsMessageId,
        ses_message_id: mail.sesMessageId,
        received_at: reply.receivedAt,
        from_address: mail.from.join(', ').slice(0, 500) || null,
        target: mail.target ? `v${mail.target.emailId}` : null,
        email_id: mail.target?.emailId ?? null,
        outcome: 'refused',
        reason: 'pending',
        verdicts: JSON.stringify(mail.verdicts),
        action_type: mail.actionType,
      })
      .onConflict((oc) => oc.doNothing())
      .returning('id')
      .executeTakeFirst();
    // A replay of a notification already recorded (and applied, or refused)
    // once, or a second notification of the same received message (a rule
    // with both an S3 and an SNS action).
    if (!recorded) return { duplicate: true, outcome: 'refused', reason: null, emailId: null };
    const decision = await decide(trx, reply);
    await trx
      .updateTable('inbound_replies')
      .set({ outcome: decision.outcome, reason: decision.reason, token_id: decision.tokenId })
      .where('id', '=', recorded.id)
      .execute();
    return { duplicate: false, outcome: decision.outcome, reason: decision.reason, emailId: mail.target?.emailId ?? null };
  });
}

interface Decision {
  outcome: 'verified' | 'refused';
  reason: string | null;
  tokenId: string | null;
}

async function decide(trx: Kysely<Database>, { mail, receivedAt }: InboundReply): Promise<Decision> {
  const refuse = (reason: string, tokenId: string | null = null): Decision => ({ outcome: 'refused', reason, tokenId });
  // Without REPLY_DOMAIN no address is a reply address: replies confirm nothing.
  if (!mail.target) return refuse('not_a_reply_address');
  if (mail.from.length !== 1) return refuse(mail.from.length === 0 ? 'no_from_address' : 'several_from_addresses');
  const verdicts = verdictRefusal(mail.verdicts);
  if (verdicts) return refuse(verdicts);
  const token = linkTokenOfReplySecret(mail.target.secret);
  const row = await trx.selectFrom('verification_tokens').selectAll().where('token_hash', '=', hashToken(token)).forUpdate().executeTakeFirst();
  // The secret of another address's mail is no better than a wrong one.
  if (!row || row.email_id !== mail.target.emailId) return refuse('unknown_secret');
  const state = tokenState(row, receivedAt);
  if (state !== 'valid') return refuse(`token_${state}`, row.id);
  if (!sameAddress(mail.from[0]!, row.email)) return refuse('from_not_token_address', row.id);
  const confirmed = await confirmVerification(trx, token, receivedAt, { channel: 'reply' });
  if (confirmed.status !== 'verified') return refuse(confirmed.status, row.id);
  return { outcome: 'verified', reason: confirmed.alreadyVerified ? 'already_verified' : null, tokenId: row.id };
}
