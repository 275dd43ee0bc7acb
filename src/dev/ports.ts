import { createServer, type Server } from 'node:net';

/** True when nothing listens on `port` on the loopback interface. */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** `preferred` when it is free, else a port the kernel picks. */
export async function freePort(preferred?: number): Promise<number> {
  if (preferred !== undefined && (await portIsFree(preferred))) return preferred;
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host: '127.0.0.1' }, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export interface PortReservation {
  readonly port: number;
  /** Frees the port for its real user; call right before that one listens. */
  release(): Promise<void>;
}

/**
 * Holds `preferred` (or a port the kernel picks when it is taken) with a
 * listening placeholder. The dev server starts seconds after its port is
 * chosen (migrations, seeding): held meanwhile, a second `reverify dev`
 * starting at the same moment cannot choose it too.
 */
export async function reservePort(preferred: number): Promise<PortReservation> {
  const listen = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      const holder = createServer();
      holder.once('error', reject);
      holder.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(holder));
    });
  const holder = await listen(preferred).catch(() => listen(0));
  const address = holder.address();
  const port = typeof address === 'object' && address ? address.port : preferred;
  let released: Promise<void> | undefined;
  return {
    port,
    release: () => (released ??= new Promise<void>((resolve) => holder.close(() => resolve()))),
  };
}
