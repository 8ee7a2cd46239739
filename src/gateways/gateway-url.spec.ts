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
});
