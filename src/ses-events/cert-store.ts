import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * SNS signing certificates, cached in memory and on disk as
 * `<sha256 hex of SigningCertURL>.pem` in SNS_CERT_CACHE_DIR. A cached
 * certificate is used without fetching; a fetch happens at most once per URL
 * per process even when many requests need it at the same moment. The fetch
 * is injectable so tests and benchmarks run offline.
 */

export type FetchLike = (url: string, init?: { signal?: AbortSignal }) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;

/** The certificate could not be obtained (network, SNS down): the caller answers 503 so SNS retries. */
export class CertificateUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CertificateUnavailableError';
  }
}

/** The cache file name of a certificate URL. */
export function certCacheFileName(certUrl: string): string {
  return `${createHash('sha256').update(certUrl).digest('hex')}.pem`;
}

export interface CertificateStoreOptions {
  readonly cacheDir: string;
  readonly fetch?: FetchLike;
  readonly timeoutMs?: number;
  /** Told when the disk cache cannot be written (the certificate is still used from memory). */
  readonly onCacheWriteError?: (error: unknown) => void;
}

/** A signing certificate's public key and the period it is valid for. */
export interface SigningCertificate {
  readonly key: KeyObject;
  readonly validFrom: Date;
  readonly validTo: Date;
}

export class CertificateStore {
  private readonly certificates = new Map<string, Promise<SigningCertificate>>();
  private fetches = 0;

  constructor(private readonly options: CertificateStoreOptions) {}

  /** How many certificates were fetched over the network (the benchmark expects one at most). */
  get fetchCount(): number {
    return this.fetches;
  }

  /** The certificate at `certUrl` (already checked by checkSigningCertUrl). */
  certificate(certUrl: string): Promise<SigningCertificate> {
    let pending = this.certificates.get(certUrl);
    if (!pending) {
      pending = this.load(certUrl);
      this.certificates.set(certUrl, pending);
      // A failed load must not stay cached: the next request tries again.
      pending.catch(() => this.certificates.delete(certUrl));
    }
    return pending;
  }

  private async load(certUrl: string): Promise<SigningCertificate> {
    const file = path.join(this.options.cacheDir, certCacheFileName(certUrl));
    const cached = await readFile(file, 'utf8').catch(() => null);
    if (cached !== null) {
      const certificate = certificateFromPem(cached);
      if (certificate) return certificate;
    }
    const pem = await this.fetchPem(certUrl);
    const certificate = certificateFromPem(pem);
    if (!certificate) throw new CertificateUnavailableError(`${certUrl} did not return a PEM certificate`);
    // Write then rename, so a concurrent reader never sees half a file. The
    // disk copy only saves a fetch after a restart: failing to write it
    // (read-only or full disk) must not refuse a genuine message.
    const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
    await mkdir(this.options.cacheDir, { recursive: true })
      .then(() => writeFile(temporary, pem, 'utf8'))
      .then(() => rename(temporary, file))
      .catch((error: unknown) => this.options.onCacheWriteError?.(error));
    return certificate;
  }

  private async fetchPem(certUrl: string): Promise<string> {
    const fetchImpl = this.options.fetch ?? (globalThis.fetch as FetchLike);
    this.fetches += 1;
    try {
      const response = await fetchImpl(certUrl, { signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return await response.text();
    } catch (error) {
      throw new CertificateUnavailableError(`could not fetch the SNS signing certificate ${certUrl}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

function certificateFromPem(pem: string): SigningCertificate | null {
  try {
    const x509 = new X509Certificate(pem);
    return {
      key: createPublicKey(x509.publicKey.export({ type: 'spki', format: 'pem' })),
      validFrom: new Date(x509.validFrom),
      validTo: new Date(x509.validTo),
    };
  } catch {
    return null;
  }
}
