import { GetAccountCommand, ListSuppressedDestinationsCommand, type SESv2Client } from '@aws-sdk/client-sesv2';
import type { Config } from '../config.js';
import { createSesClient } from '../mail/ses-client.js';
import type { GetAccountAnswer } from './figures.js';

/**
 * The two SESv2 account calls reverify makes besides SendEmail: GetAccount
 * (quota and enforcement status) and ListSuppressedDestinations (the
 * account-level suppression list). Against SES_ENDPOINT when set (the dev
 * stack's local SES answers both), else AWS with the default credentials.
 */
export interface SesAccountApi {
  getAccount(): Promise<GetAccountAnswer>;
  /** One page of the account's suppression list, from `nextToken` (undefined: the first page). */
  listSuppressed(nextToken: string | undefined): Promise<SuppressedPage>;
}

/** One entry as SES lists it; fields are unknown until checked (a list may hold anything). */
export interface SuppressedEntry {
  readonly EmailAddress?: unknown;
  readonly Reason?: unknown;
  readonly LastUpdateTime?: unknown;
}

export interface SuppressedPage {
  readonly entries: readonly SuppressedEntry[];
  readonly nextToken: string | undefined;
}

/** How long one account call may take: a silent SES must not hold the maintenance queue. */
const CALL_TIMEOUT_MS = 10_000;

/** Largest page SES returns (PageSize 1–1000). */
export const SUPPRESSION_PAGE_SIZE = 1_000;

/** The account API over an SESv2 client. */
export function sesAccountApi(client: SESv2Client): SesAccountApi {
  return {
    async getAccount() {
      return client.send(new GetAccountCommand({}), { abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
    },
    async listSuppressed(nextToken) {
      const page = await client.send(new ListSuppressedDestinationsCommand({ NextToken: nextToken, PageSize: SUPPRESSION_PAGE_SIZE }), {
        abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
      return { entries: page.SuppressedDestinationSummaries ?? [], nextToken: page.NextToken || undefined };
    },
  };
}

const apis = new WeakMap<object, SesAccountApi>();

/** The account API of a running app (one client per process), created on first use. */
export function sesAccountApiFor(app: { config: Config }): SesAccountApi {
  let api = apis.get(app);
  if (!api) {
    api = sesAccountApi(createSesClient(app.config));
    apis.set(app, api);
  }
  return api;
}

/** Why an account call failed, as the account check records it. */
export type AccountCallFailure = 'access_denied' | 'unsupported' | 'error';

/**
 * Sorts an error of an account call: no permission (AccessDenied, 403); a
 * local SES that does not know the call (404, UnknownOperation, or the 400
 * aws-ses-v2-local gives when it has no account configured); anything else
 * (network, 5xx, throttling) is an error to try again later.
 */
export function classifyAccountError(error: unknown, config: Pick<Config, 'SES_ENDPOINT'>): AccountCallFailure {
  const name = typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : '';
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  if (name === 'AccessDeniedException' || name === 'AccessDenied' || status === 403) return 'access_denied';
  if (name === 'UnknownOperationException' || status === 404) return 'unsupported';
  if (config.SES_ENDPOINT !== undefined && status === 400) return 'unsupported';
  return 'error';
}
