import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance } from 'fastify';
import { clip } from '../echo.js';

/**
 * How long the HTTP server waits for clients. Fastify's defaults wait forever
 * for a request's body (requestTimeout 0) and a socket's next byte
 * (connectionTimeout 0): 200 connections trickling a partial request held
 * their sockets for as long as they liked. SNS posts at most 256 KiB and gives
 * up after 15 s itself; browsers send small requests; so a whole request gets
 * REQUEST_TIMEOUT_MS and its headers HEADERS_TIMEOUT_MS. Idle keep-alive
 * connections stay open longer than the usual proxy idle timeout (60 s) so a
 * proxy never reuses a socket the server has just closed.
 */
export interface HttpLimits {
  /** The whole request (headers and body) must arrive within this (ms). */
  readonly requestTimeoutMs: number;
  /** The request's headers must arrive within this (ms); at most requestTimeoutMs. */
  readonly headersTimeoutMs: number;
  /** A socket with no traffic at all for this long is closed (ms). */
  readonly connectionTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (ms). */
  readonly keepAliveTimeoutMs: number;
  /** Requests served on one keep-alive connection before it is closed. */
  readonly maxRequestsPerSocket: number;
  /** How often Node looks for requests past their timeouts (ms). */
  readonly checkIntervalMs: number;
}

export const HTTP_LIMITS: HttpLimits = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  connectionTimeoutMs: 120_000,
  keepAliveTimeoutMs: 65_000,
  maxRequestsPerSocket: 1_000,
  checkIntervalMs: 2_000,
};

/** The Fastify constructor options for `limits`. */
export function fastifyLimitOptions(limits: HttpLimits) {
  return {
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.connectionTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    http: {
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      connectionsCheckingInterval: limits.checkIntervalMs,
    },
  };
}

/**
 * Fastify's default 404 and error bodies repeat the request (its URL, its
 * content type, a parser's message): here they are clipped like every echo.
 * Routes with an error handler of their own (the webhook) keep it.
 */
export function clipEchoedErrors(server: FastifyInstance): void {
  server.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `Route ${request.method}:${clip(request.url)} not found` });
  });
  server.setErrorHandler((error: FastifyError, request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    void reply.code(status).send({ statusCode: status, code: error.code, error: STATUS_CODES[status], message: clip(error.message ?? '') });
  });
}
