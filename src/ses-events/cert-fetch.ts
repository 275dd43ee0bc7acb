/**
 * One download of an SNS signing certificate, with the limits a public
 * endpoint needs: no redirects (a certificate lives where the message says or
 * nowhere), a timeout, a size cap, and a small number of downloads in flight
 * whatever arrives. What went wrong decides the answer: a certificate SNS
 * does not have (404 and other "not there" answers) is a forgery, answered
 * 403; only a network failure, a timeout or a 5xx is SNS being down (503, so
 * SNS retries).
 */

export type FetchLike = (
  url: string,
  init?: { signal?: AbortSignal; redirect?: 'error' },
) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;

/** The certificate could not be obtained (network, SNS down): the caller answers 503 so SNS retries. */
export class CertificateUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CertificateUnavailableError';
  }
}

/** The SNS host says there is no such certificate: the message is forged (403 bad_cert). */
export class CertificateMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateMissingError';
  }
}

/** A certificate is about 2 KB; anything far larger is not one. */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;

/** Statuses that mean "try later" even though they are 4xx. */
const RETRYABLE_4XX = new Set([408, 425, 429]);

/** Runs at most `limit` tasks at once; at most `maxWaiting` wait, more are refused at once. */
export class FetchLimiter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly limit: number,
    private readonly maxWaiting: number,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) {
      if (this.waiting.length >= this.maxWaiting) {
        throw new CertificateUnavailableError(`too many SNS certificate downloads waiting (${this.maxWaiting}); try later`);
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running += 1;
    try {
      return await task();
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }

  /** Downloads in flight now (tests check the bound). */
  get inFlight(): number {
    return this.running;
  }
}

/** Downloads one certificate's PEM text, or throws CertificateMissingError / CertificateUnavailableError. */
export async function downloadCertificate(fetchImpl: FetchLike, certUrl: string, timeoutMs: number): Promise<string> {
  let response: Awaited<ReturnType<FetchLike>>;
  let text: string;
  try {
    response = await fetchImpl(certUrl, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    text = response.ok ? await response.text() : '';
  } catch (error) {
    throw new CertificateUnavailableError(`could not fetch the SNS signing certificate ${certUrl}: ${describe(error)}`, { cause: error });
  }
  if (!response.ok) {
    if (response.status >= 400 && response.status < 500 && !RETRYABLE_4XX.has(response.status)) {
      throw new CertificateMissingError(`the SNS host has no certificate at ${certUrl} (HTTP ${response.status})`);
    }
    throw new CertificateUnavailableError(`could not fetch the SNS signing certificate ${certUrl}: HTTP ${response.status}`);
  }
  if (text.length > MAX_CERTIFICATE_BYTES) {
    throw new CertificateUnavailableError(`${certUrl} returned ${text.length} characters, more than a certificate (${MAX_CERTIFICATE_BYTES})`);
  }
  return text;
}

/** fetch's own messages are terse ("fetch failed"): the cause says what happened. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return 'timed out';
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
