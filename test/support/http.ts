/** A small HTTP client for e2e tests: real requests to the real Fastify server. */
export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string;
  headers?: Record<string, string>;
  /** Sent as-is (no JSON encoding) when a string. */
  raw?: string;
}

export class Http {
  constructor(readonly baseUrl: string) {}

  async request<T = any>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let payload: string | undefined;
    if (options.raw !== undefined) {
      payload = options.raw;
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(this.baseUrl + path, { method, headers, body: payload });
    const text = await response.text();
    let parsed: unknown = text;
    const type = response.headers.get('content-type') ?? '';
    if (type.includes('json') && text.length > 0) parsed = JSON.parse(text);
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  get<T = any>(path: string, token?: string): Promise<HttpResult<T>> {
    return this.request<T>('GET', path, undefined, { token });
  }

  post<T = any>(path: string, body: unknown, token?: string): Promise<HttpResult<T>> {
    return this.request<T>('POST', path, body, { token });
  }

  patch<T = any>(path: string, body: unknown, token?: string): Promise<HttpResult<T>> {
    return this.request<T>('PATCH', path, body, { token });
  }

  delete<T = any>(path: string, token?: string): Promise<HttpResult<T>> {
    return this.request<T>('DELETE', path, undefined, { token });
  }
}
