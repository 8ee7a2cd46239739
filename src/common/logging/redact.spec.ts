import { Writable } from 'node:stream';

import pino from 'pino';

import { censorSensitive, isSensitiveName, REDACTED, scrubSecrets } from './redact';

describe('censorSensitive', () => {
  it('censors sensitive names at any depth, in objects and arrays', () => {
    const input = {
      gatewayId: 'g1',
      token: 't0p',
      data: { nested: { deeper: { signingSecret: 's1', keep: 1 } }, list: [{ apiKey: 'k1' }, { name: 'x' }] },
    };
    expect(censorSensitive(input)).toEqual({
      gatewayId: 'g1',
      token: REDACTED,
      data: { nested: { deeper: { signingSecret: REDACTED, keep: 1 } }, list: [{ apiKey: REDACTED }, { name: 'x' }] },
    });
  });

  it('matches names whatever their case, dashes or underscores', () => {
    for (const name of [
      'api_key',
      'API-KEY',
      'Authorization',
      'X-Vault-Token',
      'x_vault_token',
      'LOCAL_STORE_KEY',
      'SecretString',
      'secret_id',
    ]) {
      expect(isSensitiveName(name)).toBe(true);
    }
    for (const name of ['secretRef', 'secretVersion', 'tokenId', 'keep', 'monkey']) expect(isSensitiveName(name)).toBe(false);
  });

  it('never changes its input, and returns the same object when there is nothing to censor', () => {
    const input = { a: { b: [1, { password: 'p' }] }, c: { d: 1 } };
    const snapshot = JSON.parse(JSON.stringify(input)) as unknown;
    const output = censorSensitive(input);
    expect(input).toEqual(snapshot);
    expect(output.c).toBe(input.c);
    expect(output.a).not.toBe(input.a);
    const clean = { a: { b: [1, 2] }, authorization: undefined };
    expect(censorSensitive(clean)).toBe(clean);
  });

  it('keeps an error an error, with its message and stack, and censors its own fields', () => {
    const error = Object.assign(new TypeError('boom'), { config: { headers: { 'X-Vault-Token': 'hvs.x' } }, code: 'E1' });
    const output = censorSensitive({ err: error }).err;
    expect(output).toBeInstanceOf(TypeError);
    expect(output.message).toBe('boom');
    expect(output.stack).toBe(error.stack);
    expect(output.code).toBe('E1');
    expect(output.config.headers['X-Vault-Token']).toBe(REDACTED);
    expect(error.config.headers['X-Vault-Token']).toBe('hvs.x');
  });

  it('survives cycles, shares repeated references, and stops at a depth', () => {
    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = cyclic;
    expect(censorSensitive(cyclic)).toEqual({ name: 'c', self: '[Circular]' });
    expect(cyclic.self).toBe(cyclic);
    const shared = { secret: 's' };
    expect(censorSensitive({ a: shared, b: shared })).toEqual({ a: { secret: REDACTED }, b: { secret: REDACTED } });
    let deep: Record<string, unknown> = { secret: 'bottom' };
    for (let i = 0; i < 20; i++) deep = { next: deep };
    expect(JSON.stringify(censorSensitive(deep))).not.toContain('bottom');
  });

  it('leaves class instances other than errors to their serializers', () => {
    const when = new Date(0);
    const buffer = Buffer.from('x');
    const output = censorSensitive({ when, buffer });
    expect(output.when).toBe(when);
    expect(output.buffer).toBe(buffer);
  });

  it('censors what a pino logger configured with it writes', () => {
    const lines: string[] = [];
    const stream = new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) });
    const logger = pino({ formatters: { log: censorSensitive } }, stream);
    logger.child({ requestId: 'r1' }).warn({ err: Object.assign(new Error('e'), { secret: 'es-1' }), data: { token: 'tk-1' } }, 'm');
    const text = lines.join('');
    for (const leaked of ['es-1', 'tk-1']) expect(text).not.toContain(leaked);
    const line = JSON.parse(text) as { requestId: string; err: { message: string; secret: string; type: string } };
    expect(line.requestId).toBe('r1');
    expect(line.err).toMatchObject({ type: 'Error', message: 'e', secret: REDACTED });
  });
});

describe('scrubSecrets', () => {
  it('scrubs our secret and token shapes inside text', () => {
    expect(scrubSecrets('GET /v1/x?k=agk_live_abcDEF123 and agt_zzz9')).toBe(`GET /v1/x?k=agk_live_${REDACTED} and agt_${REDACTED}`);
  });
});
