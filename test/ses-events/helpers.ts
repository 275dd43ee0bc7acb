import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import type { App, Clock } from '../../src/app/app.js';
import type { Db } from '../../src/db/connect.js';
import type { UnverifyReason } from '../../src/db/database.js';
import { buildServer } from '../../src/http/server.js';
import { createWebhookRoutes } from '../../src/http/routes/webhook.js';
import { CertificateStore, type FetchLike } from '../../src/ses-events/cert-store.js';
import { createLocalSnsSigner, type LocalSnsSigner } from '../../src/dev/sns-signer.js';
import type { TestEnv } from '../helpers/env.js';

export const TOPIC = 'arn:aws:sns:us-east-1:123456789012:reverify-ses-events';
export const OTHER_TOPIC = 'arn:aws:sns:us-east-1:123456789012:someone-elses-topic';

export interface WebhookHarness {
  app: App;
  server: FastifyInstance;
  signer: LocalSnsSigner;
  certDir: string;
  /** URLs the webhook tried to fetch (certificates, SubscribeURLs). */
  readonly fetched: string[];
  /** Campaign ids the reputation guard was asked about. */
  readonly guardCalls: string[];
  /** Added to the certificate store's clock (to let a remembered failure expire). */
  certClockOffsetMs: number;
  /** The webhook's certificate store. */
  certificates: CertificateStore;
  /** What the next fetch answers; by default the network is "down". */
  fetchAnswer: (url: string) => { ok: boolean; status: number; body: string } | Error;
}

/**
 * A webhook server for one test file: a self-signed SNS certificate placed in
 * a temporary cache directory, the file's database, and a fetch that records
 * every URL and reaches no network.
 */
export function useWebhook(env: TestEnv, options: { overrides?: Record<string, string>; clock?: Clock } = {}): WebhookHarness {
  const state: Partial<WebhookHarness> & { fetched: string[]; guardCalls: string[]; certClockOffsetMs: number; fetchAnswer: WebhookHarness['fetchAnswer'] } = {
    certClockOffsetMs: 0,
    fetched: [],
    guardCalls: [],
    fetchAnswer: () => new Error('network disabled in tests'),
  };
  const fetch: FetchLike = async (url) => {
    state.fetched.push(url);
    const answer = state.fetchAnswer(url);
    if (answer instanceof Error) throw answer;
    return { ok: answer.ok, status: answer.status, text: async () => answer.body };
  };
  beforeAll(async () => {
    state.certDir = await mkdtemp(path.join(tmpdir(), 'rv-sns-certs-'));
    state.signer = await createLocalSnsSigner({ certCacheDir: state.certDir });
    state.app = env.app({
      overrides: { SNS_TOPIC_ARNS: TOPIC, SNS_CERT_CACHE_DIR: state.certDir, ...options.overrides },
      clock: options.clock,
    });
    state.certificates = new CertificateStore({ cacheDir: state.certDir, fetch, now: () => Date.now() + state.certClockOffsetMs });
    state.server = await buildServer(state.app, { routes: [createWebhookRoutes({ fetch, certificates: state.certificates, reputationGuard: async (campaignId) => {
          state.guardCalls.push(campaignId);
          return { paused: false };
        }, })] });
  });
  afterAll(async () => {
    await state.server?.close();
    if (state.certDir) await rm(state.certDir, { recursive: true, force: true });
  });
  return state as WebhookHarness;
}

/** Posts an SNS message as SNS does (text/plain, type header from the body unless given). */
export async function post(server: FastifyInstance, message: Record<string, string> | string, typeHeader?: string | null) {
  const body = typeof message === 'string' ? message : JSON.stringify(message);
  const header = typeHeader === undefined ? (typeof message === 'string' ? 'Notification' : message.Type) : typeHeader;
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=UTF-8' };
  if (header !== null && header !== undefined) headers['x-amz-sns-message-type'] = header;
  return server.inject({ method: 'POST', url: '/webhooks/ses', headers, payload: body });
}

let counter = 0;

/** Adds a user with one primary address in the given state. */
export async function addAddress(
  db: Db,
  options: { email?: string; verified?: boolean; verifiedAt?: Date | null; reason?: UnverifyReason | null; transientBounces?: number } = {},
): Promise<{ userId: string; emailId: string; email: string }> {
  counter += 1;
  const email = options.email ?? `person${counter}-${process.pid}@example.net`;
  const user = await db.insertInto('users').values({ username: `user-${counter}-${process.pid}-${Math.random().toString(36).slice(2)}` }).returning('id').executeTakeFirstOrThrow();
  const row = await db
    .insertInto('emails')
    .values({
      user_id: user.id,
      email,
      is_primary: true,
      verified: options.verified ?? false,
      verified_at: options.verifiedAt ?? (options.verified ? new Date(Date.now() - 30 * 86_400_000) : null),
      unverify_reason: options.reason ?? null,
      transient_bounces: options.transientBounces ?? 0,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { userId: user.id, emailId: row.id, email };
}

export interface AddressSnapshot {
  verified: boolean;
  reason: UnverifyReason | null;
  transientBounces: number;
  suppression: string | null;
}

/** The address as a user (or support) would check it: row and suppression. */
export async function addressState(db: Db, emailId: string): Promise<AddressSnapshot> {
  const row = await db.selectFrom('emails').select(['email', 'verified', 'unverify_reason', 'transient_bounces']).where('id', '=', emailId).executeTakeFirstOrThrow();
  const suppression = await db.selectFrom('suppressions').select('reason').where('email', '=', row.email.toLowerCase()).executeTakeFirst();
  return { verified: row.verified, reason: row.unverify_reason, transientBounces: row.transient_bounces, suppression: suppression?.reason ?? null };
}

/** Every row the webhook may write, to assert that a refused request changed nothing. */
export async function databaseSnapshot(db: Db): Promise<unknown> {
  return {
    events: await db.selectFrom('email_events').selectAll().orderBy('id').execute(),
    emails: await db.selectFrom('emails').selectAll().orderBy('id').execute(),
    suppressions: await db.selectFrom('suppressions').selectAll().orderBy('id').execute(),
    audit: await db.selectFrom('audit_log').selectAll().orderBy('id').execute(),
    recipients: await db.selectFrom('campaign_recipients').selectAll().orderBy('id').execute(),
    perMessage: await db.selectFrom('ses_recipient_events').selectAll().orderBy('email_event_id').execute(),
  };
}
