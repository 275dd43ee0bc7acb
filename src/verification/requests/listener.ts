import pg from 'pg';
import type { App } from '../../app/app.js';
import { sesClientFor } from '../../mail/ses-client.js';
import { verificationRequestsTotal } from '../../metrics.js';
import { sendGateFor } from '../../pace/send-gate.js';
import { sendSlotsFor } from '../../pace/send-slots.js';
import { processVerificationRequest, type RequestSendContext } from './deliver.js';
import { pendingRequestIds, settleStaleRequests } from './request-store.js';

/**
 * Picks up the rows the site inserts into verification_requests. A trigger
 * notifies the channel on insert (delivered when the site's transaction
 * commits), so a row is usually taken within milliseconds; a poll every
 * `pollMs` catches whatever a notification missed (the listening connection
 * was down, the row waited for a retry, reverify was stopped). The listener
 * is its own PostgreSQL connection, so it works the same whichever backend
 * holds the queues. Every worker process listens; a row is processed by the
 * one that locks it first.
 */

export const REQUEST_CHANNEL = 'reverify_verification_requests';
const DEFAULT_POLL_MS = 5_000;
const RECONNECT_MS = 1_000;
const BATCH = 50;

export interface RequestListener {
  /** Resolves once every row pending now has been processed (tests, the CLI). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** Starts listening and polling for `app`; close it before closing the app. */
export function startRequestListener(app: App, options: { pollMs?: number; ctx?: RequestSendContext } = {}): RequestListener {
  const ctx = options.ctx ?? { ses: sesClientFor(app), gate: sendGateFor(app), slots: sendSlotsFor(app) };
  const listener = new Listener(app, ctx);
  void listener.connect();
  const poll = setInterval(() => void listener.drain(), options.pollMs ?? DEFAULT_POLL_MS);
  return {
    drain: () => listener.drain(),
    async close() {
      clearInterval(poll);
      await listener.close();
    },
  };
}

class Listener {
  private closed = false;
  private client: pg.Client | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private connecting: Promise<void> | undefined;

  constructor(
    private readonly app: App,
    private readonly ctx: RequestSendContext,
  ) {}

  /** One drain at a time; a wake-up during a drain runs one more after it. */
  drain(): Promise<void> {
    // Closed: the app (and its database) may be gone already.
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.drainOnce().catch((error: unknown) =>
          this.app.log.error({ err: error }, 'verification requests: processing failed; trying again at the next poll'),
        );
      } while (this.again && !this.closed);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async drainOnce(): Promise<void> {
    const { app } = this;
    await settleStaleRequests(app.db, app.clock());
    for (;;) {
      const ids = await pendingRequestIds(app.db, app.clock(), BATCH);
      for (const id of ids) {
        if (this.closed) return;
        const { outcome } = await processVerificationRequest(app, id, this.ctx);
        if (outcome !== 'taken') verificationRequestsTotal.inc({ outcome });
      }
      if (ids.length < BATCH || this.closed) return;
    }
  }

  /** Opens the listening connection; on failure (or a later error) tries again, the poll covering the gap. */
  connect(): Promise<void> {
    this.connecting = this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    if (this.closed) return;
    const next = new pg.Client({ connectionString: this.app.config.DATABASE_URL });
    next.on('notification', () => void this.drain());
    next.on('error', (error) => this.retry(next, error, 'the listening connection failed'));
    try {
      await next.connect();
      await next.query(`LISTEN ${REQUEST_CHANNEL}`);
    } catch (error) {
      this.retry(next, error, 'cannot listen for notifications');
      return;
    }
    if (this.closed) {
      await next.end().catch(() => undefined);
      return;
    }
    this.client = next;
    // Rows inserted while nobody listened.
    void this.drain();
  }

  private retry(client: pg.Client, error: unknown, what: string): void {
    if (this.client === client) this.client = undefined;
    void client.end().catch(() => undefined);
    if (this.closed) return;
    this.app.log.warn({ err: error }, `verification requests: ${what}; trying again (polling meanwhile)`);
    setTimeout(() => void this.connect(), RECONNECT_MS).unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connecting;
    await this.running;
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
