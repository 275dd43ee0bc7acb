import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';

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
    private readonly server: Server,
    readonly endpoint: string,
    private readonly store: StoreModule,
  ) {}

  static async start(): Promise<LocalSes> {
    const start = (require('aws-ses-v2-local') as { default: (config: { host: string; port: number }) => Promise<Server> }).default;
    const store = require('aws-ses-v2-local/dist/store') as StoreModule;
    store.clearStore();
    const server = await start({ host: '127.0.0.1', port: 0 });
    const { port } = server.address() as AddressInfo;
    return new LocalSes(server, `http://127.0.0.1:${port}`, store);
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
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
