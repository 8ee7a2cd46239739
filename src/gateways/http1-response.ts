/**
 * An HTTP/1.x response reader for the webhook sender (http-webhook-sender.ts),
 * fed the bytes of one connection as they arrive. It reads the status line and
 * the headers the sender needs (`retry-after`, and what frames the body), skips
 * interim 1xx answers, then skips the body by its framing (`content-length`,
 * chunked, none for 204 and 304, or up to the close), and says whether the
 * connection may carry another request. Bodies are never kept: a webhook's
 * answer is its status.
 */

/** Status line and headers together may not exceed this (node:http's default limit). */
export const MAX_HEAD_BYTES = 16 * 1024;

export interface ResponseHead {
  status: number;
  /** The first `retry-after` header, as sent. */
  retryAfter: string | null;
}

export class Http1ResponseError extends Error {
  readonly code = 'HPE_INVALID_RESPONSE';
}

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-data-end' | 'trailers' | 'until-close' | 'done';

const CRLF = Buffer.from('\r\n');
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/;
const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * One response on a connection. `feed` takes each chunk read; it returns the
 * bytes left over once the response ended (a well-behaved server sends none,
 * since one request is in flight per connection), or null while the response
 * goes on. `head` is set once the final (non-1xx) head has been read.
 * Throws Http1ResponseError on anything that is not HTTP/1.x.
 */
export class Http1Response {
  head: ResponseHead | null = null;
  /** Whether the connection may carry the next request once this response ended. */
  keepAlive = false;
  private state: State = 'head';
  private pending: Buffer | null = null;
  /** Body bytes (or chunk bytes) still to skip. */
  private remaining = 0;

  /** The response ended. */
  get done(): boolean {
    return this.state === 'done';
  }

  /** The body runs to the close of the connection (no length, not chunked): the close ends it. */
  get endsAtClose(): boolean {
    return this.state === 'until-close';
  }

  feed(chunk: Buffer): Buffer | null {
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let at = 0;
    while (at < data.length || this.state === 'done') {
      switch (this.state) {
        case 'head': {
          const end = data.indexOf(HEAD_END, at);
          if (end < 0) {
            if (data.length - at > MAX_HEAD_BYTES) throw new Http1ResponseError('response head too large');
            this.pending = data.subarray(at);
            return null;
          }
          if (end - at > MAX_HEAD_BYTES) throw new Http1ResponseError('response head too large');
          this.readHead(data.toString('latin1', at, end));
          at = end + 4;
          break;
        }
        case 'length': {
          const take = Math.min(this.remaining, data.length - at);
          this.remaining -= take;
          at += take;
          if (this.remaining === 0) this.state = 'done';
          break;
        }
        case 'chunk-size': {
          const end = data.indexOf(CRLF, at);
          if (end < 0) {
            if (data.length - at > 1024) throw new Http1ResponseError('chunk size line too long');
            this.pending = data.subarray(at);
            return null;
          }
          const line = data.toString('latin1', at, end);
          const size = /^([0-9a-fA-F]{1,12})[ \t]*(;.*)?$/.exec(line);
          if (!size) throw new Http1ResponseError('invalid chunk size');
          this.remaining = parseInt(size[1], 16);
          this.state = this.remaining === 0 ? 'trailers' : 'chunk-data';
          at = end + 2;
          break;
        }
        case 'chunk-data': {
          const take = Math.min(this.remaining, data.length - at);
          this.remaining -= take;
          at += take;
          if (this.remaining === 0) this.state = 'chunk-data-end';
          break;
        }
        case 'chunk-data-end': {
          if (data.length - at < 2) {
            this.pending = data.subarray(at);
            return null;
          }
          if (data[at] !== 13 || data[at + 1] !== 10) throw new Http1ResponseError('chunk not followed by CRLF');
          at += 2;
          this.state = 'chunk-size';
          break;
        }
        case 'trailers': {
          const end = data.indexOf(CRLF, at);
          if (end < 0) {
            if (data.length - at > MAX_HEAD_BYTES) throw new Http1ResponseError('trailers too large');
            this.pending = data.subarray(at);
            return null;
          }
          // An empty line ends the trailers; any other line is a trailer field, skipped.
          if (end === at) this.state = 'done';
          at = end + 2;
          break;
        }
        case 'until-close':
          return null;
        case 'done':
          return data.subarray(at);
      }
    }
    return null;
  }

  private readHead(head: string): void {
    let eol = head.indexOf('\r\n');
    if (eol < 0) eol = head.length;
    const statusLine = STATUS_LINE.exec(head.slice(0, eol));
    if (!statusLine) throw new Http1ResponseError('not an HTTP/1.x status line');
    const minor = statusLine[1];
    const status = Number(statusLine[2]);
    let retryAfter: string | null = null;
    let length: number | null = null;
    let chunked = false;
    let close = minor === '0';
    // Header lines, read in place: only the names the sender acts on are cut out and compared (by length first).
    for (let at = eol + 2; at < head.length;) {
      let end = head.indexOf('\r\n', at);
      if (end < 0) end = head.length;
      const colon = head.indexOf(':', at);
      if (colon <= at || colon > end) throw new Http1ResponseError('invalid header line');
      const nameLength = colon - at;
      if (nameLength === 10 || nameLength === 11 || nameLength === 14 || nameLength === 17) {
        const name = head.slice(at, colon).toLowerCase();
        const value = head.slice(colon + 1, end).trim();
        if (name === 'content-length') {
          if (!/^\d{1,15}$/.test(value)) throw new Http1ResponseError('invalid content-length');
          const n = Number(value);
          if (length !== null && length !== n) throw new Http1ResponseError('conflicting content-length');
          length = n;
        } else if (name === 'transfer-encoding') {
          chunked = /(^|,)\s*chunked\s*$/i.test(value);
          if (!chunked) close = true; // another coding last: the body runs to the close
        } else if (name === 'connection') {
          const tokens = value
            .toLowerCase()
            .split(',')
            .map((t) => t.trim());
          if (tokens.includes('close')) close = true;
          else if (minor === '0' && tokens.includes('keep-alive')) close = false;
        } else if (name === 'retry-after' && retryAfter === null) {
          retryAfter = value;
        }
      }
      at = end + 2;
    }
    if (status >= 100 && status < 200) {
      // An interim answer (100 Continue, 103 Early Hints): the final one follows. 101 would switch protocols: refused.
      if (status === 101) throw new Http1ResponseError('unexpected protocol switch');
      return;
    }
    this.head = { status, retryAfter };
    this.keepAlive = !close;
    if (status === 204 || status === 304) this.state = 'done';
    else if (chunked) this.state = 'chunk-size';
    else if (length !== null) {
      this.remaining = length;
      this.state = length === 0 ? 'done' : 'length';
    } else {
      this.keepAlive = false;
      this.state = 'until-close';
    }
  }
}
