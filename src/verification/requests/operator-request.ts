import { setTimeout as sleep } from 'node:timers/promises';
import type { App } from '../../app/app.js';
import { processVerificationRequest, type RequestSendContext } from './deliver.js';

/**
 * An operator's verification request (`reverify verification request`): a
 * verification_requests row with requested_by = 'operator', processed on the
 * same path as the site's rows — here and now, unless a running worker,
 * woken by the same insert, takes it first (then this waits for its outcome).
 */

export class OperatorRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperatorRequestError';
  }
}

export interface OperatorRequestResult {
  id: string;
  userId: string;
  email: string | null;
  outcome: string;
  reason: string | null;
}

const WAIT_FOR_WORKER_MS = 60_000;

/** Finds whose verification is asked for: a user id, or the address that is a user's primary. */
export async function resolveRequestedUser(app: App, who: { userId?: string; email?: string }): Promise<string> {
  if (who.userId !== undefined) {
    const user = await app.db.selectFrom('users').select('id').where('id', '=', who.userId).executeTakeFirst();
    if (!user) throw new OperatorRequestError(`no user has the id ${who.userId}`);
    return user.id;
  }
  const address = who.email ?? '';
  const email = await app.db
    .selectFrom('emails')
    .select(['user_id', 'is_primary', 'email'])
    .where((eb) => eb(eb.fn('lower', ['email']), '=', address.toLowerCase()))
    .executeTakeFirst();
  if (!email) throw new OperatorRequestError(`no account has the address ${address}`);
  if (!email.is_primary) {
    throw new OperatorRequestError(`${email.email} is not the primary address of user ${email.user_id}: verification mail goes only to primary addresses (use --user ${email.user_id} to mail the primary one)`);
  }
  return email.user_id;
}

/** Inserts an operator's request for `userId` and processes it; the row's final state. */
export async function requestAsOperator(app: App, userId: string, ctx: RequestSendContext): Promise<OperatorRequestResult> {
  const row = await app.db
    .insertInto('verification_requests')
    .values({ user_id: userId, requested_by: 'operator', requested_at: app.clock() })
    .returning('id')
    .executeTakeFirstOrThrow();
  const result = await processVerificationRequest(app, row.id, ctx);
  const deadline = Date.now() + WAIT_FOR_WORKER_MS;
  for (;;) {
    const current = await app.db
      .selectFrom('verification_requests')
      .select(['id', 'user_id', 'email', 'outcome', 'reason'])
      .where('id', '=', row.id)
      .executeTakeFirstOrThrow();
    const settled = current.outcome !== null || result.outcome === 'retrying' || Date.now() > deadline;
    if (settled) {
      return { id: current.id, userId: current.user_id, email: current.email, outcome: current.outcome ?? (result.outcome === 'retrying' ? 'retrying' : 'pending'), reason: current.reason };
    }
    // A worker took the row on the insert's notification: its outcome comes shortly.
    await sleep(200);
  }
}
