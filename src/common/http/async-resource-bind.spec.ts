import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';

import { installAsyncResourceBind } from './async-resource-bind';

describe('installAsyncResourceBind', () => {
  beforeAll(() => installAsyncResourceBind());

  it('runs the bound function in the resource’s async scope, with the caller’s this and arguments', () => {
    const storage = new AsyncLocalStorage<string>();
    const bound = storage.run('at bind', () => {
      const resource = new AsyncResource('test');
      return resource.bind(function (this: unknown, a: number, b: number) {
        return { store: storage.getStore(), self: this, sum: a + b };
      });
    });
    const receiver = { name: 'receiver' };
    const result = storage.run('at call', () => bound.call(receiver, 1, 2));
    expect(result).toEqual({ store: 'at bind', self: receiver, sum: 3 });
    expect(bound.length).toBe(2);
  });

  it('binds thisArg when given, and the static AsyncResource.bind goes through it', () => {
    const storage = new AsyncLocalStorage<string>();
    const thisArg = { name: 'bound this' };
    const bound = storage.run('at bind', () =>
      AsyncResource.bind(
        function (this: unknown) {
          return { store: storage.getStore(), self: this };
        },
        'test',
        thisArg,
      ),
    );
    expect(storage.run('at call', () => bound())).toEqual({ store: 'at bind', self: thisArg });
  });

  it('keeps the deprecated asyncResource accessors, shared by all bound functions instead of made per call', () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const first = new AsyncResource('first');
      const second = new AsyncResource('second');
      const a = first.bind(() => 1);
      const b = second.bind(() => 2);
      expect((a as unknown as { asyncResource: AsyncResource }).asyncResource).toBe(first);
      expect((b as unknown as { asyncResource: AsyncResource }).asyncResource).toBe(second);
      (b as unknown as { asyncResource: AsyncResource }).asyncResource = first;
      expect((b as unknown as { asyncResource: AsyncResource }).asyncResource).toBe(first);
      // Node 20 made a new deprecated getter (and made it a prototype) for every bound function.
      expect(Object.getOwnPropertyDescriptor(a, 'asyncResource')!.get).toBe(Object.getOwnPropertyDescriptor(b, 'asyncResource')!.get);
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses what is not a function, as Node does', () => {
    expect(() => new AsyncResource('test').bind(42 as unknown as () => void)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});
