import { Logger } from '@nestjs/common';
import { storage } from 'nestjs-pino/storage';

import { Fixtures } from '../support/fixtures';
import { eventually } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * Whether the request loggers' AsyncLocalStorage is switched on. On Node 20 an AsyncLocalStorage is built on
 * async hooks: while one is on, every promise of the process runs a promise hook, and `enabled` says whether
 * this one is. (Whether the process's hooks are on cannot be asked here: a file run earlier in the same jest
 * worker may have left a storage of its own switched on.) Node 24 builds it on AsyncContextFrame, which has no
 * hooks to turn off and no `enabled`; there this file checks only that requests are logged with their ids.
 */
const hooked = typeof (storage as unknown as { enabled?: boolean }).enabled === 'boolean';
const storageOn = () => (storage as unknown as { enabled: boolean }).enabled;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Waits (briefly) for the storage to go off; fails if it stays on. */
const storageOff = () => eventually(() => !storageOn(), 1_000, 'the request storage off with no logged request in flight');

/**
 * The access log and the request's logger (src/common/logging/request-logging.ts): a logged request has its
 * line and its id on every line written while serving it; the hot routes have neither, and do not pay for
 * the AsyncLocalStorage that carries the id once no logged request is in flight.
 */
describe('request logging', () => {
  let t: TestApp;
  let f: Fixtures;

  beforeAll(async () => {
    t = await startTestApp({
      beforeListen: (app) => {
        // A route that logs through Nest's Logger while serving, as any service does.
        app
          .getHttpAdapter()
          .getInstance()
          .get('/test/logs-while-serving', async () => {
            await new Promise((resolve) => setTimeout(resolve, 300));
            new Logger('LoggingTest').warn('written while serving');
            return { ok: true };
          });
      },
    });
    f = new Fixtures(t);
  });
  afterAll(() => t.close());

  it("writes the request's id on a line a service writes while serving it, and one access-log line", async () => {
    const response = await t.http.request('GET', '/test/logs-while-serving', undefined, {});
    expect(response.status).toBe(200);
    const id = response.headers.get('x-request-id')!;
    await eventually(() => t.logs.lines.some((l) => l.includes('written while serving')), 5_000, 'the line');
    const line = JSON.parse(t.logs.lines.find((l) => l.includes('written while serving'))!);
    expect(line.req?.id).toBe(id);
    await eventually(() => t.logs.lines.some((l) => l.includes(id) && l.includes('request completed')), 5_000, 'the access line');
  });

  (hooked ? it : it.skip)(
    'switches its storage (and so the promise hooks) off once no logged request is in flight, and verify and authz calls never switch it on',
    async () => {
      const world = await f.world();
      const gateway = await f.gateway();
      const gatewayToken = (await f.token('gateway', undefined, gateway.id)).token;
      const { secret } = await f.credential(world.agent.id, [`${world.product.name}:read`]);
      // Logged requests above switched it on while they were served; all have answered. A response's
      // 'close' (which ends its request's turn) can come a moment after the client has read the answer.
      await storageOff();
      const authz = await t.http.request('GET', '/v1/authz', undefined, {
        headers: { 'x-gateway-token': gatewayToken, 'x-api-key': secret! },
      });
      expect(authz.status).toBe(200);
      expect((await t.http.post('/v1/verify', { key: secret }, gatewayToken)).status).toBe(200);
      // The hot routes never switched it on: still off at once.
      await nextTurn();
      expect(storageOn()).toBe(false);
      // A logged request switches it on again while it is served.
      const slow = t.http.request('GET', '/test/logs-while-serving', undefined, {});
      await eventually(() => storageOn(), 2_000, 'the storage on while a logged request is served');
      expect((await slow).status).toBe(200);
      await storageOff();
    },
  );
});
