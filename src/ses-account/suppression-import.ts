import { sql, type Kysely } from 'kysely';
import type { App } from '../app/app.js';
import { recordAudit, type AuditEntry } from '../audit/audit.js';
import type { Database, UnverifyReason } from '../db/database.js';
import { addressesUnverifiedTotal } from '../metrics.js';
import { SUPPRESSION_RANK, suppressionRank, type SuppressionReason } from '../mail/suppressions.js';
import { sesAccountApiFor, type SesAccountApi, type SuppressedEntry } from './ses-account-api.js';

/**
 * `reverify suppressions import-ses` and its daily job: SES's account-level
 * suppression list (ListSuppressedDestinations, every page) onto reverify's.
 * Each address of the site's database is suppressed with SES's reason
 * (BOUNCE → hard_bounce, COMPLAINT → complaint, SES's own word kept in
 * suppressions.ses_reason) and made unverified as the contract's rule for a
 * permanent bounce or a complaint says: a stronger reason already there
 * stays, and a BOUNCE SES listed before the address was last verified is
 * stale (as the webhook treats a bounce older than the verification). An
 * entry that is malformed or names no address of the database is counted as
 * seen and skipped. One transaction a page; a page is all or nothing.
 */

export interface ImportResult {
  seen: number;
  added: number;
  alreadySuppressed: number;
  dryRun: boolean;
  /** Addresses made unverified by the import (a subset of `added`). */
  unverified: number;
  skipped: { malformed: number; unknownAddress: number; verifiedSince: number };
}

type SesReason = 'BOUNCE' | 'COMPLAINT';
type Outcome = 'added' | 'alreadySuppressed' | 'malformed' | 'unknownAddress' | 'verifiedSince';

interface Listed {
  readonly address: string;
  readonly sesReason: SesReason;
  readonly listedAt: Date | null;
}

const OURS: Record<SesReason, SuppressionReason & UnverifyReason> = { BOUNCE: 'hard_bounce', COMPLAINT: 'complaint' };

/** Reads every page of SES's list and imports it (with dryRun: counts what it would do and writes nothing). */
export async function importSesSuppressions(app: App, options: { dryRun: boolean; api?: SesAccountApi }): Promise<ImportResult> {
  const api = options.api ?? sesAccountApiFor(app);
  const result: ImportResult = { seen: 0, added: 0, alreadySuppressed: 0, dryRun: options.dryRun, unverified: 0, skipped: { malformed: 0, unknownAddress: 0, verifiedSince: 0 } };
  // An address listed twice is handled once; the repeat counts as what the first became.
  const handled = new Map<string, Outcome>();
  const tokens = new Set<string>();
  let token: string | undefined;
  do {
    const page = await api.listSuppressed(token);
    const fresh: Listed[] = [];
    for (const entry of page.entries) {
      result.seen += 1;
      const listed = readEntry(entry);
      const earlier = listed ? handled.get(listed.address) : 'malformed';
      if (earlier !== undefined) count(result, earlier === 'added' ? 'alreadySuppressed' : earlier);
      else if (listed) {
        handled.set(listed.address, 'added');
        fresh.push(listed);
      }
    }
    const outcomes = await app.db.transaction().execute((trx) => importPage(app, trx, fresh, options.dryRun));
    for (const [address, outcome] of outcomes.byAddress) {
      handled.set(address, outcome);
      count(result, outcome);
    }
    result.unverified += outcomes.unverified;
    token = page.nextToken;
    if (token !== undefined && tokens.has(token)) throw new Error('SES ListSuppressedDestinations returned the same NextToken twice; stopping the import');
    if (token !== undefined) tokens.add(token);
  } while (token !== undefined);
  return result;
}

function count(result: ImportResult, outcome: Outcome): void {
  if (outcome === 'added' || outcome === 'alreadySuppressed') result[outcome] += 1;
  else result.skipped[outcome] += 1;
}

/** An entry's address (lower-cased), reason and date, or null when it is not a usable entry. */
function readEntry(entry: SuppressedEntry): Listed | null {
  const raw = entry.EmailAddress;
  if (typeof raw !== 'string') return null;
  const address = raw.trim().toLowerCase();
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
  if (address.length > 320 || !/^[^\s@\u0000-\u001f\u007f]+@[^\s@\u0000-\u001f\u007f]+\.[^\s@\u0000-\u001f\u007f]+$/.test(address)) return null;
  if (entry.Reason !== 'BOUNCE' && entry.Reason !== 'COMPLAINT') return null;
  const when = entry.LastUpdateTime instanceof Date || typeof entry.LastUpdateTime === 'string' ? new Date(entry.LastUpdateTime) : null;
  return { address, sesReason: entry.Reason, listedAt: when && !Number.isNaN(when.getTime()) ? when : null };
}

interface Known {
  id: string;
  user_id: string;
  address: string;
  verified: boolean;
  verified_at: Date | null;
  unverify_reason: UnverifyReason | null;
  suppressed: SuppressionReason | null;
}

/** Decides and (unless dryRun) writes one page's addresses; returns each address's outcome. */
async function importPage(app: App, trx: Kysely<Database>, page: readonly Listed[], dryRun: boolean) {
  const byAddress = new Map<string, Outcome>();
  const known = new Map((await lockKnown(trx, page.map((listed) => listed.address))).map((row) => [row.address, row]));
  const writes: Array<{ listed: Listed; row: Known; added: boolean; unverifyWith: UnverifyReason | null }> = [];
  for (const listed of page) {
    const row = known.get(listed.address);
    const outcome = decide(listed, row);
    byAddress.set(listed.address, outcome);
    if (!row || (outcome !== 'added' && outcome !== 'alreadySuppressed')) continue;
    const ours = OURS[listed.sesReason];
    const unverifyWith = outcome === 'added' && (row.verified || rank(row.unverify_reason) < rank(ours)) ? ours : null;
    writes.push({ listed, row, added: outcome === 'added', unverifyWith });
  }
  const unverified = writes.filter((w) => w.unverifyWith !== null).length;
  if (!dryRun) await writePage(app, trx, writes);
  return { byAddress, unverified };
}

function decide(listed: Listed, row: Known | undefined): Outcome {
  if (!row) return 'unknownAddress';
  const stale = listed.sesReason === 'BOUNCE' && listed.listedAt !== null && row.verified_at !== null && row.verified_at > listed.listedAt;
  if (stale) return 'verifiedSince';
  return row.suppressed !== null && rank(row.suppressed) >= rank(OURS[listed.sesReason]) ? 'alreadySuppressed' : 'added';
}

function rank(reason: SuppressionReason | UnverifyReason | null): number {
  return reason === null ? 0 : (SUPPRESSION_RANK[reason as SuppressionReason] ?? 0);
}

/** The page's addresses found in the database, locked as the webhook locks them (lower(email) order), with their suppression. */
async function lockKnown(trx: Kysely<Database>, addresses: readonly string[]): Promise<Known[]> {
  if (addresses.length === 0) return [];
  const { rows } = await sql<Known>`
    SELECT e.id, e.user_id, lower(e.email) AS address, e.verified, e.verified_at, e.unverify_reason, s.reason AS suppressed
    FROM emails e LEFT JOIN suppressions s ON s.email = lower(e.email)
    WHERE lower(e.email) = ANY(${[...addresses]}::text[])
    ORDER BY lower(e.email)
    FOR NO KEY UPDATE OF e
  `.execute(trx);
  return rows;
}

type Write = { listed: Listed; row: Known; added: boolean; unverifyWith: UnverifyReason | null };

/** Suppressions (a stronger reason only; SES's reason and date recorded either way), unverified addresses and the audit rows. */
async function writePage(app: App, trx: Kysely<Database>, writes: readonly Write[]): Promise<void> {
  if (writes.length === 0) return;
  await sql`
    INSERT INTO suppressions AS s (email, reason, ses_reason, ses_listed_at)
    SELECT * FROM unnest(${writes.map((w) => w.row.address)}::text[], ${writes.map((w) => OURS[w.listed.sesReason])}::text[],
      ${writes.map((w) => w.listed.sesReason)}::text[], ${writes.map((w) => w.listed.listedAt)}::timestamptz[])
    ON CONFLICT (email) DO UPDATE SET ses_reason = excluded.ses_reason, ses_listed_at = excluded.ses_listed_at,
      reason = CASE WHEN ${suppressionRank(sql.ref('excluded.reason'))} > ${suppressionRank(sql.ref('s.reason'))} THEN excluded.reason ELSE s.reason END
  `.execute(trx);
  const unverify = writes.filter((w) => w.unverifyWith !== null);
  if (unverify.length > 0) {
    await sql`
      UPDATE emails e SET verified = false, unverify_reason = u.reason
      FROM unnest(${unverify.map((w) => w.row.id)}::bigint[], ${unverify.map((w) => w.unverifyWith)}::text[]) AS u(id, reason)
      WHERE e.id = u.id
    `.execute(trx);
  }
  await recordAudit(trx, writes.filter((w) => w.added).map((w) => auditOf(w)));
  for (const w of unverify) addressesUnverifiedTotal.inc({ reason: w.unverifyWith as string });
  app.log.debug({ added: writes.filter((w) => w.added).length, unverified: unverify.length }, 'imported a page of the SES suppression list');
}

function auditOf(write: Write): AuditEntry {
  const { listed, row } = write;
  return {
    actor: 'ses-suppression-import',
    action: write.unverifyWith ? 'email.unverified' : 'email.suppressed',
    userId: row.user_id,
    emailId: row.id,
    reason: OURS[listed.sesReason],
    details: {
      email: row.address,
      sesReason: listed.sesReason,
      sesListedAt: listed.listedAt?.toISOString() ?? null,
      previous: { verified: row.verified, reason: row.unverify_reason, suppressed: row.suppressed },
      source: 'SES account-level suppression list (ListSuppressedDestinations)',
    },
  };
}
