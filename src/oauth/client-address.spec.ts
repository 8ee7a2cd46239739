import { addressAllowed } from './client-address';

describe('addressAllowed', () => {
  it.each([
    ['10.1.2.3', ['10.0.0.0/8'], true],
    ['11.1.2.3', ['10.0.0.0/8'], false],
    ['::ffff:10.1.2.3', ['10.0.0.0/8'], true],
    ['2001:db8::1', ['2001:db8::/32'], true],
    ['2001:db9::1', ['2001:db8::/32', '10.0.0.0/8'], false],
    ['127.0.0.1', [], true],
    ['not-an-ip', ['10.0.0.0/8'], false],
  ])('%s in %j: %s', (address, allowlist, expected) => {
    expect(addressAllowed(address, allowlist)).toBe(expected);
  });
});
