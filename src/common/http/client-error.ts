import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

import { problem, PROBLEM_CONTENT_TYPE, ProblemDetails } from './problem';

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (a request line
 * or headers over Node's size limit, a timeout, malformed HTTP) are answered
 * here, on the raw socket, as problem+json like every other error: Fastify's
 * default answer is its own JSON shape.
 */
export function clientErrorProblem(code: string | undefined): ProblemDetails {
  if (code === 'HPE_HEADER_OVERFLOW') {
    return problem(431, 'HEADERS_TOO_LARGE', 'The request line and headers are larger than this server accepts.', [
      { field: 'headers', message: 'the URL and headers together are too large' },
    ]);
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return problem(408, 'REQUEST_TIMEOUT', 'The request was not received in time.');
  return problem(400, 'MALFORMED_REQUEST', 'The request is not well-formed HTTP.', [
    { field: 'request', message: 'is not well-formed HTTP' },
  ]);
}

/** Fastify's `clientErrorHandler`: write the problem and close the connection. */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const details = clientErrorProblem(error.code);
    const body = JSON.stringify(details);
    const status = details.status;
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
