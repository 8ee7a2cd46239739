import { gatewayUrlProblem } from './gateway-url';

describe('gateway URLs', () => {
  it('accepts http and https only', () => {
    expect(gatewayUrlProblem('https://gw.example.com/hooks', null)).toBeNull();
    expect(gatewayUrlProblem('http://127.0.0.1:8080/', null)).toBeNull();
    expect(gatewayUrlProblem('ftp://gw.example.com/', null)).toBe('must use http or https');
    expect(gatewayUrlProblem('file:///etc/passwd', null)).toBe('must use http or https');
    expect(gatewayUrlProblem('gw.example.com/hooks', null)).toBe('must be an absolute http or https URL');
    expect(gatewayUrlProblem('https://user:pw@gw.example.com/', null)).toBe('must not contain credentials');
  });

  it('restricts hosts to the allowlist when one is set', () => {
    const allow = ['gw.example.com', '*.gateways.example.com', '::1'];
    expect(gatewayUrlProblem('https://gw.example.com/x', allow)).toBeNull();
    expect(gatewayUrlProblem('https://GW.example.com/x', allow)).toBeNull();
    expect(gatewayUrlProblem('https://eu.gateways.example.com/x', allow)).toBeNull();
    expect(gatewayUrlProblem('http://[::1]:9000/x', allow)).toBeNull();
    expect(gatewayUrlProblem('https://gateways.example.com/x', allow)).toMatch(/not in GATEWAY_URL_ALLOWLIST/);
    expect(gatewayUrlProblem('http://169.254.169.254/latest', allow)).toMatch(/not in GATEWAY_URL_ALLOWLIST/);
    expect(gatewayUrlProblem('https://evilgw.example.com/x', allow)).toMatch(/not in GATEWAY_URL_ALLOWLIST/);
  });

  it('refuses link-local and cloud metadata hosts always, even when the allowlist names them', () => {
    expect(gatewayUrlProblem('http://169.254.169.254/latest/meta-data/', null)).toBe(
      'host 169.254.169.254 is a link-local address (where cloud metadata services live)',
    );
    expect(gatewayUrlProblem('http://[::ffff:169.254.169.254]/', null)).toMatch(/^host \[::ffff:a9fe:a9fe\] is a link-local address/);
    expect(gatewayUrlProblem('http://0xa9fea9fe/', null)).toMatch(/^host 169.254.169.254 is a link-local address/);
    expect(gatewayUrlProblem('http://[fd00:ec2::254]/', null)).toBe('host [fd00:ec2::254] is a cloud metadata address');
    expect(gatewayUrlProblem('http://metadata.google.internal/computeMetadata/v1/', null)).toBe(
      'host metadata.google.internal is a cloud metadata host name',
    );
    expect(gatewayUrlProblem('http://0.0.0.0:8080/', null)).toMatch(/unspecified address/);
    expect(gatewayUrlProblem('http://169.254.169.254/', ['169.254.169.254'])).toMatch(/link-local/);
  });

  it('allows private networks and loopback unless switched off', () => {
    expect(gatewayUrlProblem('http://10.1.2.3/hooks', null)).toBeNull();
    expect(gatewayUrlProblem('http://[::1]:9000/', null)).toBeNull();
    const closed = { allowPrivateNetworks: false, allowLoopback: false };
    expect(gatewayUrlProblem('http://10.1.2.3/hooks', null, closed)).toMatch(/GATEWAY_ALLOW_PRIVATE_NETWORKS is false/);
    expect(gatewayUrlProblem('http://127.0.0.1:8080/', null, closed)).toMatch(/GATEWAY_ALLOW_LOOPBACK is false/);
    expect(gatewayUrlProblem('http://localhost:8080/', null, closed)).toMatch(/GATEWAY_ALLOW_LOOPBACK is false/);
    expect(gatewayUrlProblem('https://gw.example.com/hooks', null, closed)).toBeNull();
  });
});
