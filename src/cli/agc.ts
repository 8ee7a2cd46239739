#!/usr/bin/env node
/**
 * agc: the responder CLI (docs/incident-response.md). Revoke a credential or
 * an agent's credentials, report a leaked secret read from standard input,
 * follow a revocation until every gateway acknowledged, and say who the token
 * is. Talks to the service over HTTP only (AGC_URL, AGC_TOKEN).
 */
import { Command, CommanderError, Option } from 'commander';

import { secretPrefixedPattern } from '../common/secrets/secret-shape';
import { AgcClient } from './agc-client';
import { loadCliConfig } from './cli-config';
import { CliError, ExitCode, ExitCodeValue } from './exit-codes';

/** How long --wait waits by default, in seconds. */
const DEFAULT_WAIT_SECONDS = 300;
/** One long-poll of GET /v1/revocations/:id while waiting: short, so progress shows. */
const POLL_SECONDS = 2;

interface WaitOptions {
  wait?: boolean;
  timeout: number;
}

/** Everything `agc` prints goes through here; whatever looks like a key or token is masked on the way out. */
class Output {
  private readonly masked: string[] = [];

  /** Masks this exact value too (the secret read from standard input), wherever it might appear. */
  mask(value: string): void {
    if (value) this.masked.push(value);
  }

  line(text = ''): void {
    process.stdout.write(`${this.clean(text)}\n`);
  }

  error(text: string): void {
    process.stderr.write(`${this.clean(text)}\n`);
  }

  clean(text: string): string {
    let out = text;
    for (const value of this.masked) out = out.split(value).join('[redacted]');
    return out.replace(secretPrefixedPattern(), '[redacted]');
  }
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 86_400)
    throw new CliError(ExitCode.Usage, `--timeout must be a whole number of seconds, 1..86400`);
  return n;
}

/** Progress of a revocation, one line per gateway: printed when it changes. */
function progressLines(view: any): string[] {
  const deliveries: any[] = view.deliveries ?? [];
  const count = view.credentialCount ?? view.credentialIds?.length ?? 0;
  const lines = [`revocation ${view.id}: ${view.status}, ${count} credential(s), revoked at ${view.revokedAt}`];
  if (deliveries.length === 0) lines.push('  no gateway serves these credentials');
  for (const d of deliveries) {
    const failed = d.failed ? `, ${d.failed} failed${d.lastError ? ` (last error: ${d.lastError})` : ''}` : '';
    lines.push(`  gateway ${d.gatewayId}: ${d.delivered}/${d.total} acknowledged, ${d.pending} pending${failed}`);
  }
  return lines;
}

/**
 * Reads the revocation, and with --wait keeps reading until it is no longer
 * propagating or the time is up. 0 when every gateway acknowledged.
 */
async function follow(client: AgcClient, out: Output, revocationId: string, options: WaitOptions): Promise<ExitCodeValue> {
  const deadline = performance.now() + options.timeout * 1000;
  let printed = '';
  for (;;) {
    const left = Math.floor((deadline - performance.now()) / 1000);
    const waitSeconds = options.wait ? Math.max(0, Math.min(POLL_SECONDS, left)) : 0;
    // The summary view: the per-gateway counts without every credential id (megabytes for a large revocation, read every poll).
    const query = waitSeconds > 0 ? `?view=summary&waitSeconds=${waitSeconds}` : '?view=summary';
    const { body } = await client.request(
      'GET',
      `/v1/revocations/${encodeURIComponent(revocationId)}${query}`,
      undefined,
      waitSeconds * 1000,
    );
    const lines = progressLines(body).join('\n');
    if (lines !== printed) out.line(lines);
    printed = lines;
    if (body.status === 'complete') return ExitCode.Ok;
    if (body.status === 'failed') {
      out.error('some gateway gave up on a delivery: the revocation holds here, but not every gateway acknowledged it');
      return ExitCode.PartialFailure;
    }
    if (!options.wait) {
      out.error('still propagating (use --wait to wait until every gateway acknowledged)');
      return ExitCode.Timeout;
    }
    if (performance.now() >= deadline) {
      out.error(`not every gateway acknowledged within ${options.timeout} s`);
      return ExitCode.Timeout;
    }
  }
}

async function readStandardInput(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new CliError(ExitCode.Usage, 'agc leak reads the secret from standard input: agc leak < file-with-secret');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

function printRevoked(out: Output, body: any, created: boolean): void {
  const n = body.credentialIds?.length ?? 0;
  out.line(
    created
      ? `revoked ${n} credential(s) in revocation ${body.revocationId} at ${body.revokedAt}`
      : `already revoked: revocation ${body.revocationId} at ${body.revokedAt}`,
  );
  if (body.reasonContainedSecret) out.line('note: the reason held a revoked credential’s own secret; it was stored redacted');
}

function program(out: Output, run: (code: ExitCodeValue) => void): Command {
  const client = () => new AgcClient(loadCliConfig());
  const waitOption = () => new Option('--wait', 'wait until every gateway acknowledged');
  const timeoutOption = () =>
    new Option('--timeout <seconds>', 'how long --wait waits').argParser(positiveSeconds).default(DEFAULT_WAIT_SECONDS);

  const agc = new Command('agc')
    .description('Responder CLI of the agent credentials service. Reads AGC_URL and AGC_TOKEN.')
    .addHelpText(
      'after',
      '\nExit codes: 0 done (with --wait: every gateway acknowledged), 1 unexpected failure, 2 usage, 3 auth (401/403),\n' +
        '4 not found, 5 timeout / still propagating, 6 partial failure (a gateway gave up), 7 refused by the service (400/409/422).',
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(out.clean(s)), writeErr: (s) => process.stderr.write(out.clean(s)) });

  agc
    .command('revoke')
    .description('Revoke one credential now')
    .argument('<credentialId>')
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .addOption(waitOption())
    .addOption(timeoutOption())
    .action(async (credentialId: string, options: WaitOptions & { reason: string }) => {
      const c = client();
      const res = await c.request('POST', `/v1/credentials/${encodeURIComponent(credentialId)}/revoke`, { reason: options.reason });
      printRevoked(out, res.body, res.status === 202);
      run(options.wait ? await follow(c, out, res.body.revocationId, options) : ExitCode.Ok);
    });

  agc
    .command('revoke-agent')
    .description('Revoke every active or pending credential of an agent, as one revocation')
    .argument('<agentId>')
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .addOption(waitOption())
    .addOption(timeoutOption())
    .action(async (agentId: string, options: WaitOptions & { reason: string }) => {
      const c = client();
      const res = await c.request('POST', '/v1/revocations', { reason: options.reason, filter: { agentIds: [agentId] } });
      printRevoked(out, res.body, true);
      run(options.wait ? await follow(c, out, res.body.revocationId, options) : ExitCode.Ok);
    });

  agc
    .command('leak')
    .description('Report a leaked secret, read from standard input (never an argument): agc leak < file-with-secret')
    .argument('[refused...]', 'nothing: a secret given as an argument is refused')
    .addOption(new Option('--action <action>', 'what to do with a matching credential').choices(['revoke', 'rotate', 'none']))
    .option('--source <text>', 'where it was found (e.g. github)')
    .option('--url <url>', 'where it was found')
    .addOption(waitOption())
    .addOption(timeoutOption())
    .action(async (refused: string[], options: WaitOptions & { action?: string; source?: string; url?: string }) => {
      for (const value of refused) out.mask(value);
      if (refused.length > 0) {
        throw new CliError(
          ExitCode.Usage,
          'agc leak takes the secret on standard input only (an argument lands in shell history and process lists): agc leak < file',
        );
      }
      const c = client();
      const secret = await readStandardInput();
      out.mask(secret);
      if (!secret) throw new CliError(ExitCode.Usage, 'standard input was empty: agc leak < file-with-secret');
      const res = await c.request('POST', '/v1/leaks', {
        secret,
        ...(options.action ? { action: options.action } : {}),
        ...(options.source ? { source: options.source } : {}),
        ...(options.url ? { url: options.url } : {}),
      });
      const body = res.body;
      if (!body.matched) {
        out.line('no credential matches this secret; nothing was done');
        return run(ExitCode.NotFound);
      }
      out.line(
        `matched credential ${body.credentialId} (version ${body.version}${body.current === false ? ', not current' : ''}): ${body.actionTaken}` +
          (body.revocationId ? `, revocation ${body.revocationId}` : '') +
          (body.rotationId ? `, rotation ${body.rotationId}` : '') +
          (body.alertId ? `, alert ${body.alertId}` : ''),
      );
      run(options.wait && body.revocationId ? await follow(c, out, body.revocationId, options) : ExitCode.Ok);
    });

  agc
    .command('status')
    .description('Show how far a revocation has reached, per gateway; --wait until every gateway acknowledged')
    .argument('<revocationId>')
    .addOption(waitOption())
    .addOption(timeoutOption())
    .action(async (revocationId: string, options: WaitOptions) => {
      run(await follow(client(), out, revocationId, options));
    });

  agc
    .command('whoami')
    .description('Show the token AGC_TOKEN is: its name, role and owner')
    .action(async () => {
      const c = client();
      const { body } = await c.request('GET', '/v1/tokens/self');
      out.line(`${body.name} (${body.role}${body.ownerId ? `, owner ${body.ownerId}` : ''}), token id ${body.id}, at ${c.baseUrl}`);
      run(ExitCode.Ok);
    });

  return agc;
}

export async function main(argv: string[]): Promise<ExitCodeValue> {
  const out = new Output();
  let code: ExitCodeValue = ExitCode.Ok;
  try {
    await program(out, (c) => (code = c)).parseAsync(argv);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are answers; every other parse error is a usage error (commander printed it).
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version'
        ? ExitCode.Ok
        : ExitCode.Usage;
    }
    if (error instanceof CliError) {
      out.error(`agc: ${error.message}`);
      return error.code;
    }
    out.error(`agc: ${(error as Error).message ?? String(error)}`);
    return ExitCode.Failure;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
