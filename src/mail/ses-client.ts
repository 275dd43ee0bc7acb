import { SESv2Client, type SendEmailCommand, type SendEmailCommandOutput } from '@aws-sdk/client-sesv2';
import type { Config } from '../config.js';

/**
 * The SES client. SES_ENDPOINT points it at a local SES (aws-ses-v2-local)
 * during development and tests; in production the SDK's default credential
 * chain and AWS_REGION apply. Anything with the client's `send` works, which
 * is how tests inject throttling, rejections and outages.
 */
export interface SesSender {
  send(command: SendEmailCommand): Promise<Pick<SendEmailCommandOutput, 'MessageId'>>;
}

/**
 * Hooks to await right before a request goes on the wire, by the SendEmail
 * input they belong to (see sendMessage's `beforeWire`). Looked up per
 * request by one middleware of the client: the client caches its resolved
 * middleware, so a middleware added to one command would be ignored (or,
 * cached with the first command, run for every later one).
 */
const wireHooks = new WeakMap<object, () => Promise<void>>();

/** Has a client made by createSesClient await `hook` once `input`'s request is built and signed, right before it is sent. */
export function awaitBeforeWire(input: object, hook: () => Promise<void>): void {
  wireHooks.set(input, hook);
}

/** Builds an SESv2Client from the configuration. */
export function createSesClient(config: Pick<Config, 'AWS_REGION' | 'SES_ENDPOINT'>): SESv2Client {
  // Without timeouts a silent SES holds a send slot forever. maxAttempts 1:
  // the SDK's own retries would bypass the send queue's rate limiter and the
  // ledger; every retry goes back through the queue instead. cacheMiddleware:
  // the SDK otherwise sorts and assembles the whole middleware stack again
  // for every SendEmail (35–64 µs of the sender's main thread a message in
  // the sending benchmark); nothing here changes the stack after the client
  // is made.
  const common = {
    region: config.AWS_REGION,
    maxAttempts: 1,
    cacheMiddleware: true,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
  };
  const client =
    config.SES_ENDPOINT === undefined
      ? new SESv2Client(common)
      : new SESv2Client({
          ...common,
          endpoint: config.SES_ENDPOINT,
          // A local SES checks no signature; the SDK still wants credentials to sign with.
          credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'local', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'local' },
        });
  // The last step before the HTTP handler: after serializing, endpoint
  // resolution and signing, which on a worker's first send (a cold SDK) can
  // take tens of milliseconds.
  client.middlewareStack.add(
    (next) => async (args) => {
      const { input } = args as { input?: unknown };
      const hook = typeof input === 'object' && input !== null ? wireHooks.get(input) : undefined;
      if (hook) await hook();
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'reverifyBeforeWire' },
  );
  return client;
}

const clients = new WeakMap<object, SesSender>();

/** The SES client of a running app (one per process), created on first use. */
export function sesClientFor(app: { config: Config }): SesSender {
  let client = clients.get(app);
  if (!client) {
    client = createSesClient(app.config);
    clients.set(app, client);
  }
  return client;
}

/** Makes `app` send through `client` (tests, benchmarks). */
export function useSesClient(app: { config: Config }, client: SesSender): void {
  clients.set(app, client);
}

/** What to do about an SES error. */
export type SesErrorKind =
  /** 429: the account's send rate was exceeded; back off without spending an attempt. */
  | 'throttled'
  /** SES refused this message or address: retrying cannot help. */
  | 'rejected'
  /** The account or configuration set cannot send at all: stop every campaign. */
  | 'account_paused'
  /** Network trouble or a 5xx: retry with backoff. */
  | 'transient';

const REJECTED = new Set([
  'MessageRejected',
  'BadRequestException',
  'MailFromDomainNotVerifiedException',
  'NotFoundException',
  'InvalidParameterValue',
]);
const ACCOUNT_PAUSED = new Set(['SendingPausedException', 'AccountSuspendedException']);

/** Sorts an error thrown by SendEmail into what the sender should do about it. */
export function classifySesError(error: unknown): SesErrorKind {
  const name = typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : '';
  const status = httpStatusOf(error);
  if (name === 'TooManyRequestsException' || name === 'ThrottlingException' || status === 429) return 'throttled';
  if (ACCOUNT_PAUSED.has(name)) return 'account_paused';
  if (REJECTED.has(name)) return 'rejected';
  if (status !== undefined && status >= 400 && status < 500) return 'rejected';
  return 'transient';
}

function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return undefined;
  const metadata = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return metadata?.httpStatusCode;
}

/** A short, log-safe description of an SES error for the ledger's `reason`. */
export function describeSesError(error: unknown): string {
  const name = typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return `${name}: ${message}`.slice(0, 500);
}
