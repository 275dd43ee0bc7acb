import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The SES account calls aws-ses-v2-local does not answer as reverify needs:
 * GetAccount (it answers only from a process-wide AWS_SES_ACCOUNT variable)
 * and ListSuppressedDestinations (not at all). This small SESv2-speaking
 * server answers both from figures set in code, and passes every other
 * request (SendEmail, the inbox page, /store) to the local SES behind it.
 * The dev stack puts it in front of its local SES; tests drive it to play an
 * account on probation, one without permission, or a paged suppression list.
 */

export interface StandInAccount {
  SendQuota: { MaxSendRate?: number; Max24HourSend?: number; SentLast24Hours?: number };
  EnforcementStatus?: string;
  SendingEnabled?: boolean;
}

export interface StandInSuppressed {
  EmailAddress: string;
  Reason: string;
  /** When SES listed it (sent as epoch seconds, as SES does). */
  LastUpdateTime: Date;
}

export interface SesAccountStandIn {
  /** SES_ENDPOINT for the SDK. */
  readonly endpoint: string;
  /** What GetAccount answers; 'AccessDenied' refuses it as SES does without the permission, 'unsupported' answers 404. */
  account: StandInAccount | 'AccessDenied' | 'unsupported';
  /** The account-level suppression list, served in pages of `pageSize`. */
  suppressed: StandInSuppressed[];
  pageSize: number;
  /** Calls received, by operation. */
  readonly calls: { getAccount: number; listSuppressed: number };
  stop(): Promise<void>;
}

/** A healthy account at `rate` a second and 50,000 a day, none of it used. */
export function healthyAccount(rate: number): StandInAccount {
  return { SendQuota: { MaxSendRate: rate, Max24HourSend: 50_000, SentLast24Hours: 0 }, EnforcementStatus: 'HEALTHY', SendingEnabled: true };
}

/** Starts the stand-in on 127.0.0.1 (`port` 0: any), in front of `upstream` (a local SES) when given. */
export async function startSesAccountStandIn(options: { upstream?: string; port?: number; account?: StandInAccount } = {}): Promise<SesAccountStandIn> {
  const state = {
    account: (options.account ?? healthyAccount(14)) as SesAccountStandIn['account'],
    suppressed: [] as StandInSuppressed[],
    pageSize: 1_000,
    calls: { getAccount: 0, listSuppressed: 0 },
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    if (req.method === 'GET' && url.pathname === '/v2/email/account') return answerGetAccount(state, res);
    if (req.method === 'GET' && url.pathname === '/v2/email/suppression/addresses') return answerList(state, url, res);
    if (options.upstream) return forward(options.upstream, req, res);
    json(res, 404, { __type: 'UnknownOperationException', message: 'not served here' });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let stopping: Promise<void> | undefined;
  return Object.assign(state, {
    endpoint,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  });
}

function answerGetAccount(state: Pick<SesAccountStandIn, 'account' | 'calls'>, res: ServerResponse): void {
  state.calls.getAccount += 1;
  if (state.account === 'AccessDenied') {
    return json(res, 403, { __type: 'AccessDeniedException', message: 'User is not authorized to perform: ses:GetAccount' });
  }
  if (state.account === 'unsupported') return json(res, 404, { __type: 'UnknownOperationException', message: 'GetAccount' });
  json(res, 200, state.account);
}

function answerList(state: Pick<SesAccountStandIn, 'suppressed' | 'pageSize' | 'calls'>, url: URL, res: ServerResponse): void {
  state.calls.listSuppressed += 1;
  const start = Number(url.searchParams.get('NextToken') ?? '0');
  const size = Math.min(state.pageSize, Number(url.searchParams.get('PageSize') ?? state.pageSize) || state.pageSize);
  if (!Number.isInteger(start) || start < 0) return json(res, 400, { __type: 'BadRequestException', message: 'bad NextToken' });
  const page = state.suppressed.slice(start, start + size);
  const next = start + size < state.suppressed.length ? String(start + size) : undefined;
  json(res, 200, {
    SuppressedDestinationSummaries: page.map((entry) => ({ ...entry, LastUpdateTime: entry.LastUpdateTime.getTime() / 1000 })),
    ...(next ? { NextToken: next } : {}),
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const type = typeof body === 'object' && body !== null && '__type' in body ? String((body as { __type: unknown }).__type) : undefined;
  res.writeHead(status, { 'content-type': 'application/json', ...(type ? { 'x-amzn-errortype': type } : {}) });
  res.end(JSON.stringify(body));
}

/** Passes a request on to the local SES behind, as it came. */
function forward(upstream: string, req: IncomingMessage, res: ServerResponse): void {
  const target = new URL(req.url ?? '/', upstream);
  const outgoing = request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  outgoing.on('error', (error) => {
    if (!res.headersSent) json(res, 502, { message: `local SES unreachable: ${error.message}` });
    else res.destroy();
  });
  req.pipe(outgoing);
}
