import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { Fixtures } from '../support/fixtures';
import { GatewayReceiver } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const ROOT = join(__dirname, '..', '..');

/**
 * The `agc` CLI as a responder runs it: a child process (its TypeScript
 * sources through the test require hook) against the real app over HTTP,
 * with real gateway receivers, checking exit codes, what it prints, and that
 * neither the token nor a secret is ever printed.
 */
describe('agc, the responder CLI', () => {
  let t: TestApp;
  let f: Fixtures;
  let product: any;
  let responder: { id: string; token: string };
  const production: Array<{ id: string; receiver: GatewayReceiver }> = [];
  const sandbox: Array<{ id: string; receiver: GatewayReceiver }> = [];

  beforeAll(async () => {
    t = await startTestApp({ env: { DELIVERY_RETRY_SCHEDULE: '100ms,200ms', DELIVERY_RETRY_WINDOW: '2s' } });
    f = new Fixtures(t);
    product = await f.product();
    responder = await f.token('responder');
    // Two gateways acknowledge production events at once; in sandbox one acknowledges after 5 s and one always fails.
    for (const [list, environment, responderFn] of [
      [production, 'production', () => ({ status: 204 })],
      [production, 'production', () => ({ status: 200 })],
      [sandbox, 'sandbox', () => ({ status: 204, delayMs: 5_000 })],
      [sandbox, 'sandbox', () => ({ status: 500 })],
    ] as const) {
      const receiver = await GatewayReceiver.start(responderFn);
      const res = await t.http.post(
        '/v1/gateways',
        { name: `cli-gw-${production.length + sandbox.length}`, url: receiver.url, environments: [environment] },
        f.admin,
      );
      expect(res.status).toBe(201);
      list.push({ id: res.body.gateway.id, receiver });
    }
  });

  afterAll(async () => {
    await t.close();
    await Promise.all([...production, ...sandbox].map((g) => g.receiver.close()));
  });

  function agc(args: string[], options: { token?: string | null; stdin?: string; url?: string } = {}): Promise<Run> {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', AGC_URL: options.url ?? t.baseUrl };
    const token = options.token === undefined ? responder.token : options.token;
    if (token !== null) env.AGC_TOKEN = token;
    const child = spawn(process.execPath, ['-r', join(ROOT, 'test/support/ts-cache-register.cjs'), join(ROOT, 'src/cli/agc.ts'), ...args], {
      cwd: ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(options.stdin ?? '');
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  }

  /** Neither the token used nor any secret-shaped value appears in what the CLI printed. */
  function expectNothingSecret(run: Run, ...secrets: string[]): void {
    for (const s of [responder.token, ...secrets]) {
      expect(run.stdout).not.toContain(s);
      expect(run.stderr).not.toContain(s);
    }
    expect(run.stdout + run.stderr).not.toMatch(/agk_(live|test)_[A-Za-z0-9]{8}|agt_[A-Za-z0-9_-]{8}/);
  }

  it('whoami names the token without printing it; a bad token is exit 3, a missing one exit 2', async () => {
    const me = await agc(['whoami']);
    expect(me).toMatchObject({ code: 0, stderr: '' });
    expect(me.stdout).toContain('(responder)');
    expect(me.stdout).toContain(responder.id);
    expectNothingSecret(me);
    const owner = await f.owner();
    const ownerToken = await f.token('owner', owner.id);
    const asOwner = await agc(['whoami'], { token: ownerToken.token });
    expect(asOwner.code).toBe(0);
    expect(asOwner.stdout).toContain(`owner, owner ${owner.id}`);
    expect((await t.http.get('/v1/tokens/self', ownerToken.token)).body).toEqual({
      id: ownerToken.id,
      name: expect.any(String),
      role: 'owner',
      ownerId: owner.id,
    });
    expect((await t.http.get('/v1/tokens/self', f.admin)).body).toEqual({
      id: 'bootstrap-admin',
      name: 'ADMIN_TOKEN',
      role: 'admin',
      ownerId: null,
    });
    expect((await t.http.get('/v1/tokens/self')).status).toBe(401);

    const bad = await agc(['whoami'], { token: 'agt_not-a-real-token-at-all' });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('401');
    expect(bad.stderr).not.toContain('agt_not-a-real-token-at-all');
    expect((await agc(['whoami'], { token: null })).code).toBe(2);
    expect((await agc(['whoami'], { url: 'http://127.0.0.1:1' })).code).toBe(1);
    expect((await agc(['nonsense'])).code).toBe(2);
  });

  it('revoke --wait exits 0 once every gateway acknowledged, printing per-gateway progress', async () => {
    const { agent } = await f.world();
    const issued = await f.credential(agent.id, [`${product.name}:read`]);
    const run = await agc(['revoke', issued.credential.id, '--reason', 'key in a public repo', '--wait', '--timeout', '60']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/revoked 1 credential\(s\) in revocation [0-9a-f-]{36}/);
    for (const g of production) {
      expect(run.stdout).toContain(`gateway ${g.id}: 1/1 acknowledged, 0 pending`);
      expect(g.receiver.events('credential.revoked', issued.credential.id)).toHaveLength(1);
    }
    expect(run.stdout).toContain(': complete,');
    expectNothingSecret(run, issued.secret!);
    expect((await t.http.get(`/v1/credentials/${issued.credential.id}`, f.admin)).body).toMatchObject({
      status: 'revoked',
      revokedReason: 'key in a public repo',
    });
    // Again: the same revocation, still exit 0.
    const again = await agc(['revoke', issued.credential.id, '--reason', 'again']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already revoked');
  });

  it('revoke refuses what it should: no reason (2), unknown credential (4), an auditor (3), a malformed id (7)', async () => {
    const { agent } = await f.world();
    const issued = await f.credential(agent.id, [`${product.name}:read`]);
    const noReason = await agc(['revoke', issued.credential.id]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('--reason');
    expect((await agc(['revoke', '7a1f4a8e-8f5e-4c1e-9a51-3a4b5c6d7e8f', '--reason', 'x'])).code).toBe(4);
    const auditor = await f.token('auditor');
    const denied = await agc(['revoke', issued.credential.id, '--reason', 'x'], { token: auditor.token });
    expect(denied.code).toBe(3);
    expect(denied.stderr).toContain('403');
    expect(denied.stderr).not.toContain(auditor.token);
    const malformed = await agc(['revoke', 'not-a-uuid', '--reason', 'x']);
    expect(malformed.code).toBe(7);
    expect((await agc(['revoke', issued.credential.id, '--reason', 'x', '--wait', '--timeout', 'soon'])).code).toBe(2);
    expect((await t.http.get(`/v1/credentials/${issued.credential.id}`, f.admin)).body.status).toBe('active');
  });

  it('revoke-agent --wait revokes every credential of the agent as one revocation and exits 0 when all gateways acknowledged', async () => {
    const { agent } = await f.world();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await f.credential(agent.id, [`${product.name}:read`])).credential.id);
    const run = await agc(['revoke-agent', agent.id, '--reason', 'agent compromised', '--wait']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/revoked 4 credential\(s\) in revocation/);
    for (const g of production) expect(run.stdout).toContain(`gateway ${g.id}: 4/4 acknowledged, 0 pending`);
    for (const id of ids) expect((await t.http.get(`/v1/credentials/${id}`, f.admin)).body.status).toBe('revoked');
    // Nothing left to revoke: not found.
    const again = await agc(['revoke-agent', agent.id, '--reason', 'again']);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('404');
  });

  it('status: 0 when complete, 5 while gateways are still acknowledging, 6 once one gave up, 4 for an unknown revocation', async () => {
    const { agent } = await f.world();
    const issued = await f.credential(agent.id, [`${product.name}:read`], { environment: 'sandbox' });
    const revoked = await t.http.post(`/v1/credentials/${issued.credential.id}/revoke`, { reason: 'sandbox key leaked' }, responder.token);
    expect(revoked.status).toBe(202);
    const id = revoked.body.revocationId;

    const early = await agc(['status', id]);
    expect(early.code).toBe(5);
    expect(early.stdout).toContain(': propagating,');
    const short = await agc(['status', id, '--wait', '--timeout', '1']);
    expect(short.code).toBe(5);
    expect(short.stderr).toContain('within 1 s');

    const waited = await agc(['status', id, '--wait', '--timeout', '60']);
    expect(waited.code).toBe(6);
    expect(waited.stdout).toContain(`gateway ${sandbox[0].id}: 1/1 acknowledged, 0 pending`);
    expect(waited.stdout).toMatch(new RegExp(`gateway ${sandbox[1].id}: 0/1 acknowledged, 0 pending, 1 failed`));

    const { agent: other } = await f.world();
    const done = await f.credential(other.id, [`${product.name}:read`]);
    const complete = await t.http.post(`/v1/credentials/${done.credential.id}/revoke`, { reason: 'x' }, responder.token);
    await t.http.get(`/v1/revocations/${complete.body.revocationId}?waitSeconds=20`, responder.token);
    const ok = await agc(['status', complete.body.revocationId]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(': complete,');

    expect((await agc(['status', '7a1f4a8e-8f5e-4c1e-9a51-3a4b5c6d7e8f'])).code).toBe(4);
  }, 90_000);

  it('leak reads the secret from standard input only and never prints it', async () => {
    const { agent } = await f.world();
    const issued = await f.credential(agent.id, [`${product.name}:read`]);
    const secret = issued.secret!;

    // As an argument: refused before anything is sent, and not echoed.
    const asArgument = await agc(['leak', secret]);
    expect(asArgument.code).toBe(2);
    expect(asArgument.stderr).toContain('standard input');
    expectNothingSecret(asArgument, secret);
    const asOption = await agc(['leak', '--secret', secret]);
    expect(asOption.code).toBe(2);
    expectNothingSecret(asOption, secret);
    const inAction = await agc(['leak', '--action', secret]);
    expect(inAction.code).toBe(2);
    expectNothingSecret(inAction, secret);

    const empty = await agc(['leak'], { stdin: '\n' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('empty');

    // A secret no credential ever had: exit 4, nothing done, nothing printed of it.
    const unknown = `${secret.slice(0, -8)}AAAAAAAA`;
    const unmatched = await agc(['leak', '--action', 'revoke'], { stdin: `${unknown}\n` });
    expect(unmatched.code).toBe(4);
    expect(unmatched.stdout).toContain('no credential matches');
    expectNothingSecret(unmatched, unknown);
    expect((await t.http.get(`/v1/credentials/${issued.credential.id}`, f.admin)).body.status).toBe('active');

    // On standard input it is sent to POST /v1/leaks: the credential is revoked, exit 0, and still nothing printed of the secret.
    const piped = await agc(['leak', '--action', 'revoke', '--source', 'github'], { stdin: `${secret}\n` });
    expect(piped.code).toBe(0);
    expect(piped.stdout).toContain(`matched credential ${issued.credential.id}`);
    expect(piped.stdout).toContain('revoked');
    expectNothingSecret(piped, secret);
    expect(t.logs.text()).not.toContain(secret);
    expect((await t.http.get(`/v1/credentials/${issued.credential.id}`, f.admin)).body.status).toBe('revoked');
    const badAction = await agc(['leak', '--action', 'delete'], { stdin: secret });
    expect(badAction.code).toBe(2);
    expectNothingSecret(badAction, secret);
  });
});
