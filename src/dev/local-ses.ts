import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { freePort } from './ports.js';

export interface LocalSes {
  /** SES_ENDPOINT for the SDK. */
  readonly endpoint: string;
  /** The inbox page listing every message sent. */
  readonly inboxUrl: string;
  stop(): Promise<void>;
}

/** A message as aws-ses-v2-local's GET /store lists it. */
export interface StoredEmail {
  messageId: string;
  from: string;
  destination: { to: string[]; cc: string[]; bcc: string[] };
  subject: string;
  /** Reply-To addresses, when the message has any. */
  replyTo?: string[];
  body: { text?: string; html?: string };
  /** Extra header fields sent through Simple content's Headers (the stop link's List-Unsubscribe pair). */
  headers?: Array<{ name: string; value: string }>;
  at: number;
}

type StartLocalSes = (config?: { host?: string; port?: number }) => Promise<Server>;

/**
 * Starts aws-ses-v2-local in this process on `preferredPort` (8005; 0 for any)
 * or a free port. It keeps every message in memory; its page at / is the
 * inbox. The dev stack, the tests and the chaos suite all start it here.
 */
export async function startLocalSes(options: { preferredPort?: number } = {}): Promise<LocalSes> {
  // A CommonJS package whose default export is the start function.
  const require = createRequire(import.meta.url);
  const module = require('aws-ses-v2-local') as { default: StartLocalSes };
  const port = await freePort(options.preferredPort ?? 8005);
  const server = await module.default({ host: '127.0.0.1', port });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let stopping: Promise<void> | undefined;
  return {
    endpoint: base,
    inboxUrl: `${base}/`,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}

/** Every message the local SES holds, oldest first. */
export async function listStoredEmails(endpoint: string): Promise<StoredEmail[]> {
  const response = await fetch(`${endpoint}/store`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`local SES /store answered ${response.status}`);
  const body = (await response.json()) as { emails?: StoredEmail[] };
  return body.emails ?? [];
}
