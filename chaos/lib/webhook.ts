import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import type { Db } from '../../src/db/connect.js';
import { createLocalSnsSigner, type LocalSnsSigner } from '../../src/dev/sns-signer.js';
import { sampleSesEvent } from '../../src/dev/sample-events.js';
import type { AddressEventKind } from '../../src/ses-events/state-machine.js';
import { CHAOS_TOPIC_ARN } from './env.js';

export { freePort } from '../../src/dev/ports.js';

/** A local SNS signer whose certificate sits in a fresh cache directory the server reads. */
export async function localSigner(): Promise<{ signer: LocalSnsSigner; certCacheDir: string }> {
  const certCacheDir = await mkdtemp(path.join(os.tmpdir(), 'rv-chaos-certs-'));
  return { signer: await createLocalSnsSigner({ certCacheDir }), certCacheDir };
}

/** The addresses insertAddresses writes: w1@chaos.example.org … w<count>@chaos.example.org. */
export function addressNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `w${i + 1}@chaos.example.org`);
}

/** Writes `count` people with a verified primary address w<i>@chaos.example.org (and a role). */
export async function insertAddresses(db: Db, count: number): Promise<string[]> {
  await sql`
    WITH u AS (
      INSERT INTO users (username, created_at) SELECT 'chaos-w-' || g, now() FROM generate_series(1, ${count}::int) g RETURNING id, username
    ), e AS (
      INSERT INTO emails (user_id, email, is_primary, verified, verified_at, created_at)
      SELECT id, replace(username, 'chaos-w-', 'w') || '@chaos.example.org', true, true, now() - interval '30 days', now() FROM u
    )
    INSERT INTO roles (user_id, project_name, role_name) SELECT id, 'p-' || username, 'Owner' FROM u`.execute(db);
  return addressNames(count);
}

export interface SignedMessage {
  body: string;
  type: string;
  snsMessageId: string;
}

const KINDS: AddressEventKind[] = ['hard_bounce', 'soft_bounce', 'soft_bounce', 'complaint', 'delivery', 'delivery', 'delivery_delay', 'send'];

/**
 * `count` genuine SNS notifications about `addresses`, in the order SES would
 * have sent them (event times increasing), each signed by `signer`.
 */
export function genuineMessages(signer: LocalSnsSigner, addresses: readonly string[], count: number, options: { start?: Date } = {}): SignedMessage[] {
  const start = (options.start ?? new Date(Date.now() - 30 * 60_000)).getTime();
  const messages: SignedMessage[] = [];
  for (let i = 0; i < count; i += 1) {
    const to = addresses[Math.floor(Math.random() * addresses.length)]!;
    const kind = KINDS[Math.floor(Math.random() * KINDS.length)]!;
    const at = new Date(start + i * 500);
    const snsMessageId = randomUUID();
    const message = sampleSesEvent(kind, { to, at, sesMessageId: `0100chaos${i.toString().padStart(6, '0')}-000000` });
    const signed = signer.signedNotification({ topicArn: CHAOS_TOPIC_ARN, message, messageId: snsMessageId, timestamp: at, signatureVersion: i % 3 === 0 ? '1' : '2' });
    messages.push({ body: JSON.stringify(signed), type: 'Notification', snsMessageId });
  }
  return messages;
}

export interface PostResult {
  status: number;
  ms: number;
}

/** POSTs one SNS body (text/plain, as SNS does) and returns the status (0 when the connection failed). */
export async function postSns(url: string, body: string | Buffer, type: string | undefined): Promise<PostResult> {
  const started = performance.now();
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=UTF-8' };
  if (type !== undefined) headers['x-amz-sns-message-type'] = type;
  try {
    const response = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(30_000) });
    await response.arrayBuffer();
    return { status: response.status, ms: performance.now() - started };
  } catch {
    return { status: 0, ms: performance.now() - started };
  }
}

/** Runs `work` over `items` with at most `concurrency` at once. */
export async function pool<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const index = next;
        next += 1;
        if (index >= items.length) return;
        results[index] = await work(items[index]!, index);
      }
    }),
  );
  return results;
}

export interface StateDigest {
  /** sha256 over the user-visible state: addresses, suppressions, ledger, and which SNS messages were stored. */
  hash: string;
  parts: Record<string, string>;
  rows: Record<string, string[]>;
}

/** A digest of what SES events may change, independent of row ids and arrival times. */
export async function stateDigest(db: Db): Promise<StateDigest> {
  const queries: Record<string, string> = {
    emails: `SELECT email || '|' || verified || '|' || coalesce(unverify_reason, '-') AS r FROM emails ORDER BY 1`,
    transient_bounces: `SELECT email || '|' || transient_bounces AS r FROM emails WHERE transient_bounces > 0 ORDER BY 1`,
    suppressions: `SELECT email || '|' || reason AS r FROM suppressions ORDER BY 1`,
    ledger: `SELECT id || '|' || status || '|' || (delivered_at IS NOT NULL) || (bounced_at IS NOT NULL) || (complained_at IS NOT NULL) AS r FROM campaign_recipients ORDER BY 1`,
    events: `SELECT sns_message_id AS r FROM email_events ORDER BY 1`,
    campaigns: `SELECT id || '|' || status AS r FROM campaigns ORDER BY 1`,
    users: `SELECT id || '|' || is_active || '|' || (expired_at IS NOT NULL) AS r FROM users ORDER BY 1`,
  };
  const parts: Record<string, string> = {};
  const rows: Record<string, string[]> = {};
  const all = createHash('sha256');
  for (const [name, query] of Object.entries(queries)) {
    const result = await sql<{ r: string }>`${sql.raw(query)}`.execute(db);
    rows[name] = result.rows.map((row) => row.r);
    const hash = createHash('sha256').update(rows[name].join('\n')).digest('hex');
    parts[name] = hash;
    all.update(hash);
  }
  return { hash: all.digest('hex'), parts, rows };
}

/** Which rows differ between two digests, per table, for the notes. */
export function describeDifference(expected: StateDigest, actual: StateDigest, limit = 3): string[] {
  const lines: string[] = [];
  for (const name of Object.keys(expected.parts)) {
    if (expected.parts[name] === actual.parts[name]) continue;
    const want = new Set(expected.rows[name]);
    const got = new Set(actual.rows[name]);
    const missing = [...want].filter((row) => !got.has(row));
    const extra = [...got].filter((row) => !want.has(row));
    lines.push(`${name}: ${missing.length} rows differ (expected e.g. ${missing.slice(0, limit).join('; ')} — got e.g. ${extra.slice(0, limit).join('; ')})`);
  }
  return lines;
}
