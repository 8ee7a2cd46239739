import { Http1Response, Http1ResponseError, MAX_HEAD_BYTES } from './http1-response';

/** Feeds `wire` in pieces of `size` bytes: what is left over at the end, or null while the response goes on. */
function feedInPieces(response: Http1Response, wire: string, size: number): Buffer | null {
  const bytes = Buffer.from(wire, 'latin1');
  let rest: Buffer | null = null;
  for (let at = 0; at < bytes.length; at += size) {
    rest = response.feed(bytes.subarray(at, at + size));
    if (rest) return Buffer.concat([rest, bytes.subarray(at + size)]);
  }
  return rest;
}

const NEXT = 'HTTP/1.1 200 OK\r\n\r\n';

describe('Http1Response', () => {
  const cases: Array<{ name: string; wire: string; status: number; keepAlive: boolean; retryAfter?: string }> = [
    { name: '204 without a body', wire: 'HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n', status: 204, keepAlive: true },
    { name: 'a content-length body', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world', status: 200, keepAlive: true },
    {
      name: 'a chunked body with an extension and trailers',
      wire: 'HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n',
      status: 500,
      keepAlive: true,
    },
    {
      name: 'retry-after (the first one) and connection: close',
      wire: 'HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nretry-after: 9\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      status: 503,
      keepAlive: false,
      retryAfter: '7',
    },
    { name: 'HTTP/1.0 closes', wire: 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', status: 200, keepAlive: false },
    {
      name: 'HTTP/1.0 with keep-alive',
      wire: 'HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok',
      status: 200,
      keepAlive: true,
    },
    {
      name: 'interim 100 and 103 answers before the final one',
      wire: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 3\r\n\r\nabc',
      status: 301,
      keepAlive: true,
    },
    {
      name: '304 ignores its content-length',
      wire: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n',
      status: 304,
      keepAlive: true,
    },
  ];

  for (const c of cases) {
    for (const size of [1, 3, 1000]) {
      it(`reads ${c.name}, fed ${size} byte(s) at a time, and leaves the next response alone`, () => {
        const response = new Http1Response();
        const rest = feedInPieces(response, c.wire + NEXT, size);
        expect(response.done).toBe(true);
        expect(response.head).toEqual({ status: c.status, retryAfter: c.retryAfter ?? null });
        expect(response.keepAlive).toBe(c.keepAlive);
        expect(rest?.toString('latin1')).toBe(NEXT);
      });
    }
  }

  it('has the head before the body has arrived, and ends only with the body', () => {
    const response = new Http1Response();
    expect(response.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'))).toBeNull();
    expect(response.head).toEqual({ status: 200, retryAfter: null });
    expect(response.done).toBe(false);
    expect(response.feed(Buffer.from('defghij'))?.length).toBe(0);
    expect(response.done).toBe(true);
  });

  it('reads a body without length or chunking up to the close, and does not keep the connection', () => {
    const response = new Http1Response();
    expect(response.feed(Buffer.from('HTTP/1.1 200 OK\r\n\r\nsome body'))).toBeNull();
    expect(response.head?.status).toBe(200);
    expect(response.endsAtClose).toBe(true);
    expect(response.keepAlive).toBe(false);
    expect(response.feed(Buffer.from('more'))).toBeNull();
  });

  it('treats a transfer coding other than chunked last as running to the close', () => {
    const response = new Http1Response();
    response.feed(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx'));
    expect(response.endsAtClose).toBe(true);
    expect(response.keepAlive).toBe(false);
  });

  const bad: Array<[string, string]> = [
    ['not HTTP', 'SSH-2.0-OpenSSH\r\n\r\n'],
    ['HTTP/2 status line', 'HTTP/2 200\r\n\r\n'],
    ['a header without a colon', 'HTTP/1.1 200 OK\r\nbroken\r\n\r\n'],
    ['a bad content-length', 'HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n'],
    ['conflicting content-lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['a chunk without its CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY'],
    ['a protocol switch', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n'],
  ];
  for (const [name, wire] of bad) {
    it(`refuses ${name}`, () => {
      expect(() => new Http1Response().feed(Buffer.from(wire, 'latin1'))).toThrow(Http1ResponseError);
    });
  }

  it('refuses a head larger than the limit, even when it never ends', () => {
    const response = new Http1Response();
    response.feed(Buffer.from('HTTP/1.1 200 OK\r\n'));
    expect(() => response.feed(Buffer.alloc(MAX_HEAD_BYTES + 1, 'a'))).toThrow(Http1ResponseError);
  });
});
