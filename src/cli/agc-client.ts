import type { CliConfig } from './cli-config';
import { CliError, ExitCode, ExitCodeValue } from './exit-codes';

/** What the service answered: status and parsed JSON body. */
export interface ApiAnswer<T = any> {
  status: number;
  body: T;
}

/** How long one HTTP call may take before `agc` gives up on it (a long-poll adds its own wait). */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The HTTP side of `agc`: Node's fetch with the bearer token. A problem+json
 * answer becomes a CliError with the exit code for its status and the
 * service's own detail and field errors; the token is never part of a message.
 */
export class AgcClient {
  constructor(private readonly config: CliConfig) {}

  get baseUrl(): string {
    return this.config.baseUrl;
  }

  async request<T = any>(method: 'GET' | 'POST', path: string, body?: unknown, extraWaitMs = 0): Promise<ApiAnswer<T>> {
    let response: Response;
    try {
      response = await fetch(this.config.baseUrl + path, {
        method,
        headers: {
          authorization: `Bearer ${this.config.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS + extraWaitMs),
      });
    } catch (error) {
      const reason = (error as Error).name === 'TimeoutError' ? 'timed out' : 'failed';
      throw new CliError(ExitCode.Failure, `${method} ${this.config.baseUrl}${path} ${reason}: is AGC_URL right and the service up?`);
    }
    const text = await response.text();
    let parsed: any = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new CliError(ExitCode.Failure, `${method} ${path}: answered ${response.status} with a body that is not JSON`);
      }
    }
    if (response.status >= 400) throw problemError(method, path, response.status, parsed);
    return { status: response.status, body: parsed as T };
  }
}

function exitCodeOf(status: number): ExitCodeValue {
  if (status === 401 || status === 403) return ExitCode.Auth;
  if (status === 404) return ExitCode.NotFound;
  if (status >= 400 && status < 500) return ExitCode.Refused;
  return ExitCode.Failure;
}

function problemError(method: string, path: string, status: number, problem: any): CliError {
  const detail = typeof problem?.detail === 'string' ? problem.detail : (problem?.title ?? 'no detail');
  const fields = Array.isArray(problem?.errors) ? problem.errors.map((e: any) => `\n  ${e.field}: ${e.message}`).join('') : '';
  const hint =
    status === 401
      ? ' (AGC_TOKEN is unknown or revoked)'
      : status === 404 && path.startsWith('/v1/leaks')
        ? ' (this service has no leak intake yet)'
        : '';
  return new CliError(exitCodeOf(status), `${method} ${path}: ${status} ${detail}${hint}${fields}`);
}
