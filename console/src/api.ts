/**
 * The console's only data path: the public /v1 API, authenticated by the
 * session cookie, with the session's CSRF token on every state change.
 */
export interface Problem {
  status: number;
  code?: string;
  detail?: string;
  errors?: Array<{ field: string; message: string }>;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? `Request failed (${problem.status})`);
  }

  get status(): number {
    return this.problem.status;
  }
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

let csrfToken = '';
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** Fired when the API answers 401: the session ended (signed out elsewhere, expired, token revoked). */
export const SIGNED_OUT_EVENT = 'console:signed-out';

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed = text ? (JSON.parse(text) as unknown) : undefined;
  if (!response.ok) {
    if (response.status === 401 && !path.startsWith('/console/session')) window.dispatchEvent(new Event(SIGNED_OUT_EVENT));
    throw new ApiError({ status: response.status, ...(parsed as object) });
  }
  return parsed as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}) => api<T>('POST', path, body);

/** Every page of a list (500 at a time), for the views that show a whole set. */
export async function all<T>(path: string, max = 20_000): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: Page<T> = await get<Page<T>>(`${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return items;
}

export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 403) return `Not allowed: ${error.problem.detail ?? 'this token may not do that.'}`;
    const fields = error.problem.errors?.map((e) => `${e.field} ${e.message}`).join('; ');
    return fields ? `${error.message} (${fields})` : error.message;
  }
  return (error as Error).message ?? String(error);
}
