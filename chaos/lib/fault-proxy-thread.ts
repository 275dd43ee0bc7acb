import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { FaultKind, FaultRates, ProxyEvent, ProxyCommand } from './fault-proxy.js';

/**
 * The fault proxy's HTTP side, on a thread of its own (see FaultProxy): its
 * event loop does nothing but take requests, so the arrival times it stamps
 * are when requests arrived, not when a busy harness got round to them.
 */

const { target: targetEndpoint, rates, timeoutHoldMs } = workerData as { target: string; rates: FaultRates; timeoutHoldMs: number };
const target = new URL(targetEndpoint);
const port = parentPort!;
const held = new Set<http.ServerResponse>();

const post = (event: ProxyEvent) => port.postMessage(event);

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const arrivedAt = Date.now();
    const body = Buffer.concat(chunks);
    const isSend = req.method === 'POST' && /outbound-emails/.test(req.url ?? '');
    if (isSend) post({ type: 'request' });
    const fault = isSend ? pick() : undefined;
    if (fault) post({ type: 'injected', kind: fault });
    switch (fault) {
      case 'throttle':
        return answerError(res, 429, 'TooManyRequestsException', 'Maximum sending rate exceeded.');
      case 'serverError':
        return answerError(res, 500, 'InternalFailure', 'injected internal failure');
      case 'reset':
        req.socket.destroy();
        return;
      case 'timeout': {
        held.add(res);
        setTimeout(() => {
          held.delete(res);
          req.socket.destroy();
        }, timeoutHoldMs).unref();
        return;
      }
      default:
        forward(req, res, body, isSend, arrivedAt);
    }
  });
});
server.keepAliveTimeout = 5_000;
server.listen(0, '127.0.0.1', () => post({ type: 'listening', port: (server.address() as AddressInfo).port }));

port.on('message', (command: ProxyCommand) => {
  if (command.type === 'sync') {
    // Events are delivered in order: once this answer is read, every earlier one is.
    post({ type: 'synced', id: command.id });
    return;
  }
  for (const res of held) res.socket?.destroy();
  server.close(() => {
    post({ type: 'stopped' });
    port.close();
  });
  server.closeAllConnections();
});

function pick(): FaultKind | undefined {
  let roll = Math.random();
  for (const kind of Object.keys(rates) as FaultKind[]) {
    roll -= rates[kind];
    if (roll < 0) return kind;
  }
  return undefined;
}

function answerError(res: http.ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
  res.end(JSON.stringify({ message }));
}

function forward(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, isSend: boolean, arrivedAt: number): void {
  const upstream = http.request(
    {
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: target.host },
    },
    (answer) => {
      if (isSend && answer.statusCode === 200) post({ type: 'accepted', at: arrivedAt });
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', () => req.socket.destroy());
  upstream.end(body);
}
