import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A pass-through in front of the local SES that remembers the EmailTags of
 * every message it accepts, by MessageId. Real SES echoes a message's tags in
 * each event it publishes (mail.tags); aws-ses-v2-local keeps no tags, and
 * the ledger cannot stand in for them when the point is a message the ledger
 * never recorded (a worker killed between SES's answer and its write). The
 * dev SES simulator and the chaos suite's Send events read the tags here.
 */
export interface SesTagRecorder {
  /** SES_ENDPOINT for the senders. */
  readonly endpoint: string;
  /** The tags the message was sent with, or undefined when it did not pass here. */
  tagsOf(messageId: string): Record<string, string> | undefined;
  stop(): Promise<void>;
}

const SEND_PATH = /\/v2\/email\/outbound-emails\/?$/;

/** Starts the recorder on a free loopback port, forwarding everything to `target`. */
export async function startSesTagRecorder(target: string): Promise<SesTagRecorder> {
  const tags = new Map<string, Record<string, string>>();
  const base = target.replace(/\/$/, '');
  const server = createServer((request, response) => {
    forward(base, request, response, tags).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ message: `SES tag recorder: ${(error as Error).message}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tagsOf: (messageId) => tags.get(messageId),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function forward(base: string, request: IncomingMessage, response: ServerResponse, tags: Map<string, Record<string, string>>): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === 'string' && !['host', 'content-length', 'connection', 'transfer-encoding'].includes(name)) headers[name] = value;
  }
  const method = request.method ?? 'GET';
  const answer = await fetch(`${base}${request.url ?? '/'}`, { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body });
  const text = Buffer.from(await answer.arrayBuffer());
  if (method === 'POST' && SEND_PATH.test(request.url ?? '') && answer.ok) remember(body, text, tags);
  response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
  response.end(text);
}

/** Keeps the request's EmailTags under the MessageId SES answered with; a body it cannot read is passed on unremembered. */
function remember(requestBody: Buffer, answerBody: Buffer, tags: Map<string, Record<string, string>>): void {
  try {
    const sent = JSON.parse(requestBody.toString('utf8')) as { EmailTags?: Array<{ Name?: string; Value?: string }> };
    const { MessageId } = JSON.parse(answerBody.toString('utf8')) as { MessageId?: string };
    if (!MessageId) return;
    tags.set(MessageId, Object.fromEntries((sent.EmailTags ?? []).map((tag) => [tag.Name ?? '', tag.Value ?? ''])));
  } catch {
    // Not JSON: not a SendEmail this recorder understands.
  }
}
