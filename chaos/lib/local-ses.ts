import { createRequire } from 'node:module';
import { startLocalSes, type LocalSes as DevLocalSes } from '../../src/dev/local-ses.js';

/** A message as aws-ses-v2-local keeps it. */
export interface StoredEmail {
  messageId: string;
  destination: { to: string[] };
  subject: string;
  body?: { text?: string; html?: string };
  at: number;
}

interface StoreModule {
  getStoreReadonly(): { emails: StoredEmail[] };
  clearStore(): void;
}

const require = createRequire(import.meta.url);

/**
 * aws-ses-v2-local, run inside the suite's own process on a free loopback
 * port, so the store can be read directly (10,000 messages through GET /store
 * would be a 50 MB JSON document). Workers reach it through the fault proxy.
 */
export class LocalSes {
  private constructor(
    private readonly server: DevLocalSes,
    readonly endpoint: string,
    private readonly store: StoreModule,
  ) {}

  static async start(): Promise<LocalSes> {
    const store = require('aws-ses-v2-local/dist/store') as StoreModule;
    store.clearStore();
    const server = await startLocalSes({ preferredPort: 0 });
    return new LocalSes(server, server.endpoint, store);
  }

  /** Every message accepted so far. */
  emails(): readonly StoredEmail[] {
    return this.store.getStoreReadonly().emails;
  }

  /** How many messages each (lower-cased) recipient address received. */
  countsByAddress(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const email of this.emails()) {
      for (const to of email.destination.to) {
        const address = to.toLowerCase();
        counts.set(address, (counts.get(address) ?? 0) + 1);
      }
    }
    return counts;
  }

  clear(): void {
    this.store.clearStore();
  }

  async stop(): Promise<void> {
    this.store.clearStore();
    await this.server.stop();
  }
}
