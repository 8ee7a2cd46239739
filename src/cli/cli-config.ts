import { CliError, ExitCode } from './exit-codes';

/** Where `agc` talks to and as whom: AGC_URL (default http://127.0.0.1:3000) and AGC_TOKEN. */
export interface CliConfig {
  baseUrl: string;
  token: string;
}

/** The CLI is a program of its own: its configuration is its environment, read here and nowhere else. */
export function loadCliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const raw = env.AGC_URL?.trim() || 'http://127.0.0.1:3000';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(ExitCode.Usage, 'AGC_URL is not a valid URL (e.g. https://credentials.example.com)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(ExitCode.Usage, 'AGC_URL must be an http or https URL');
  const token = env.AGC_TOKEN?.trim();
  if (!token) throw new CliError(ExitCode.Usage, 'AGC_TOKEN is not set: export the bearer token of a responder or admin');
  return { baseUrl: url.toString().replace(/\/+$/, ''), token };
}
