import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CertificateMissingError, CertificateUnavailableError, downloadCertificate, FetchLimiter, type FetchLike } from './cert-fetch.js';

/**
 * SNS signing certificates, cached in memory and on disk as
 * `<sha256 hex of SigningCertURL>.pem` in SNS_CERT_CACHE_DIR. The URL is the
 * canonical one (checkSigningCertUrl refuses any other spelling), so one
 * certificate has one cache entry. A cached certificate is used without
 * fetching; concurrent requests for one URL share one fetch; a failed fetch
 * is remembered for FAILURE_TTL_MS, so a burst of forged messages naming a
 * missing certificate costs one fetch a minute. Both caches are bounded, and
 * the disk cache keeps its newest MAX_DISK_CERTIFICATES files. The fetch is
 * injectable so tests and benchmarks run offline.
 */

export { CertificateMissingError, CertificateUnavailableError, type FetchLike } from './cert-fetch.js';

/** How long a failed fetch is answered from memory (same error) before the next try. */
export const FAILURE_TTL_MS = 60_000;
/** Certificates kept in memory: SNS uses one per region, rotated rarely. */
export const MAX_MEMORY_CERTIFICATES = 64;
/** Remembered failures (each a URL and a message); the oldest is forgotten first. */
export const MAX_REMEMBERED_FAILURES = 1_000;
/** Files kept in SNS_CERT_CACHE_DIR; the oldest are removed past it. */
export const MAX_DISK_CERTIFICATES = 100;
/** Certificate downloads in flight at once, and waiting behind them. */
export const MAX_CONCURRENT_FETCHES = 4;
export const MAX_WAITING_FETCHES = 100;

/** The cache file name of a certificate URL. */
export function certCacheFileName(certUrl: string): string {
  return `${createHash('sha256').update(certUrl).digest('hex')}.pem`;
}

export interface CertificateStoreOptions {
  readonly cacheDir: string;
  readonly fetch?: FetchLike;
  readonly timeoutMs?: number;
  /** Milliseconds now (tests move it to expire a remembered failure). */
  readonly now?: () => number;
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
  /** Insertion order is recency: a hit moves its entry to the end, the first is evicted. */
  private readonly certificates = new Map<string, Promise<SigningCertificate>>();
  private readonly failures = new Map<string, { error: Error; until: number }>();
  private readonly limiter = new FetchLimiter(MAX_CONCURRENT_FETCHES, MAX_WAITING_FETCHES);
  private fetches = 0;

  constructor(private readonly options: CertificateStoreOptions) {}

  /** How many certificates were fetched over the network (the benchmark expects one at most). */
  get fetchCount(): number {
    return this.fetches;
  }

  /** Downloads in flight now. */
  get fetchesInFlight(): number {
    return this.limiter.inFlight;
  }

  /** The certificate at `certUrl` (already checked by checkSigningCertUrl). */
  certificate(certUrl: string): Promise<SigningCertificate> {
    const failure = this.failures.get(certUrl);
    if (failure && failure.until > this.now()) return Promise.reject(failure.error);
    if (failure) this.failures.delete(certUrl);
    const cached = this.certificates.get(certUrl);
    if (cached) {
      this.certificates.delete(certUrl);
      this.certificates.set(certUrl, cached);
      return cached;
    }
    const pending = this.load(certUrl);
    this.certificates.set(certUrl, pending);
    if (this.certificates.size > MAX_MEMORY_CERTIFICATES) this.certificates.delete(this.certificates.keys().next().value as string);
    pending.catch((error: unknown) => {
      if (this.certificates.get(certUrl) === pending) this.certificates.delete(certUrl);
      this.rememberFailure(certUrl, error);
    });
    return pending;
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private rememberFailure(certUrl: string, error: unknown): void {
    if (!(error instanceof CertificateMissingError || error instanceof CertificateUnavailableError)) return;
    this.failures.delete(certUrl);
    this.failures.set(certUrl, { error, until: this.now() + FAILURE_TTL_MS });
    if (this.failures.size > MAX_REMEMBERED_FAILURES) this.failures.delete(this.failures.keys().next().value as string);
  }

  private async load(certUrl: string): Promise<SigningCertificate> {
    const file = path.join(this.options.cacheDir, certCacheFileName(certUrl));
    const cached = await readFile(file, 'utf8').catch(() => null);
    if (cached !== null) {
      const certificate = certificateFromPem(cached);
      if (certificate) return certificate;
    }
    const pem = await this.limiter.run(() => {
      this.fetches += 1;
      return downloadCertificate(this.options.fetch ?? (globalThis.fetch as FetchLike), certUrl, this.options.timeoutMs ?? 5_000);
    });
    const certificate = certificateFromPem(pem);
    if (!certificate) throw new CertificateUnavailableError(`${certUrl} did not return a PEM certificate`);
    // The disk copy only saves a fetch after a restart: failing to write it
    // (read-only or full disk) must not refuse a genuine message.
    await this.writeToDisk(file, pem).catch((error: unknown) => this.options.onCacheWriteError?.(error));
    return certificate;
  }

  /** Write then rename, so a concurrent reader never sees half a file; then trim the folder to its cap. */
  private async writeToDisk(file: string, pem: string): Promise<void> {
    const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
    await mkdir(this.options.cacheDir, { recursive: true });
    await writeFile(temporary, pem, 'utf8');
    await rename(temporary, file);
    await trimDiskCache(this.options.cacheDir, MAX_DISK_CERTIFICATES);
  }
}

/** Removes the oldest `.pem` files of `dir` beyond `keep`. */
export async function trimDiskCache(dir: string, keep: number): Promise<number> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.pem'));
  if (names.length <= keep) return 0;
  const dated = await Promise.all(
    names.map(async (name) => ({ name, mtime: await stat(path.join(dir, name)).then((s) => s.mtimeMs, () => 0) })),
  );
  dated.sort((a, b) => a.mtime - b.mtime);
  const doomed = dated.slice(0, dated.length - keep);
  await Promise.all(doomed.map(({ name }) => unlink(path.join(dir, name)).catch(() => undefined)));
  return doomed.length;
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
