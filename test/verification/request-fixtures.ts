import pg from 'pg';
import type { Db } from '../../src/db/connect.js';

let counter = 0;

export interface PersonOptions {
  active?: boolean;
  temporary?: boolean;
  verified?: boolean;
  expired?: boolean;
  noPrimary?: boolean;
  unverifyReason?: 'hard_bounce' | 'complaint';
  suppressed?: 'hard_bounce' | 'complaint';
  email?: string;
}

/** A user with one address in the state asked for; returns its ids and address. */
export async function person(db: Db, options: PersonOptions = {}) {
  counter += 1;
  const name = `req-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
  const user = await db
    .insertInto('users')
    .values({ username: name, is_active: options.active ?? true, is_temporary: options.temporary ?? false, expired_at: options.expired ? new Date() : null })
    .returning('id')
    .executeTakeFirstOrThrow();
  const email = await db
    .insertInto('emails')
    .values({
      user_id: user.id,
      email: options.email ?? `${name}@mail.example.com`,
      is_primary: !options.noPrimary,
      verified: options.verified ?? false,
      unverify_reason: options.unverifyReason ?? null,
    })
    .returning(['id', 'email'])
    .executeTakeFirstOrThrow();
  if (options.suppressed) await db.insertInto('suppressions').values({ email: email.email.toLowerCase(), reason: options.suppressed }).execute();
  return { userId: user.id, emailId: email.id, email: email.email };
}

/** Inserts a request as the site would: plain SQL on its own connection, in its own transaction. */
export async function insertAsSite(databaseUrl: string, userId: string, requestedBy?: 'user' | 'operator'): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    const result = requestedBy
      ? await client.query<{ id: string }>('INSERT INTO verification_requests (user_id, requested_by) VALUES ($1, $2) RETURNING id', [userId, requestedBy])
      : await client.query<{ id: string }>('INSERT INTO verification_requests (user_id) VALUES ($1) RETURNING id', [userId]);
    await client.query('COMMIT');
    return result.rows[0]!.id;
  } finally {
    await client.end();
  }
}

/** The request row as the site reads it back. */
export async function requestRow(db: Db, id: string) {
  return db.selectFrom('verification_requests').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}
