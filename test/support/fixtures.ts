import { randomBytes } from 'node:crypto';

import type { TestApp } from './test-app';

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}-${randomBytes(3).toString('hex')}`;

function expectStatus(result: { status: number; text: string }, expected: number[], what: string): void {
  if (!expected.includes(result.status))
    throw new Error(`${what}: expected ${expected.join('/')} but got ${result.status}: ${result.text}`);
}

/** The body of a credential request: an api_key in production, 100 requests per 60 s; `overrides` changes any field. */
export function credentialBody(agentId: string, scopes: string[], overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { agentId, type: 'api_key', environment: 'production', scopes, rateLimit: { requests: 100, perSeconds: 60 }, ...overrides };
}

/** Builds inventory through the public API, as a client would. */
export class Fixtures {
  constructor(private readonly t: TestApp) {}

  get admin(): string {
    return this.t.adminToken;
  }

  async owner(overrides: Record<string, unknown> = {}): Promise<any> {
    const name = unique('owner');
    const r = await this.t.http.post('/v1/owners', { name, email: `${name}@example.com`, kind: 'team', ...overrides }, this.admin);
    expectStatus(r, [201], 'create owner');
    return r.body;
  }

  async product(name = unique('prod').replace(/[^a-z0-9-]/g, ''), operations = ['read', 'write', 'delete', 'admin']): Promise<any> {
    const r = await this.t.http.post('/v1/products', { name, operations }, this.admin);
    expectStatus(r, [201], 'create product');
    return r.body;
  }

  async agent(ownerId: string, token = this.admin): Promise<any> {
    const r = await this.t.http.post('/v1/agents', { name: unique('agent'), ownerId }, token);
    expectStatus(r, [201], 'create agent');
    return r.body;
  }

  async token(
    role: 'admin' | 'owner' | 'responder' | 'auditor' | 'gateway',
    ownerId?: string,
    gatewayId?: string,
  ): Promise<{ id: string; token: string }> {
    const body = { name: unique(role), role, ...(ownerId ? { ownerId } : {}), ...(gatewayId ? { gatewayId } : {}) };
    const r = await this.t.http.post('/v1/tokens', body, this.admin);
    expectStatus(r, [201], 'create token');
    return { id: r.body.id, token: r.body.token };
  }

  /**
   * A gateway that nothing listens for (deliveries to it fail and retry; tests
   * that need acknowledgements use test/support/gateway-receiver.ts).
   */
  async gateway(environments: string[] = ['production', 'sandbox']): Promise<{ id: string; signingSecret: string }> {
    const r = await this.t.http.post('/v1/gateways', { name: unique('gateway'), url: 'http://127.0.0.1:9/hook', environments }, this.admin);
    expectStatus(r, [201], 'create gateway');
    return { id: r.body.gateway.id, signingSecret: r.body.signingSecret };
  }

  /** An active credential with read/write scopes; returns the credential and its one-time secret. */
  async credential(
    agentId: string,
    scopes: string[],
    overrides: Record<string, unknown> = {},
    token = this.admin,
  ): Promise<{ credential: any; secret?: string; status: number }> {
    const r = await this.t.http.post('/v1/credentials', credentialBody(agentId, scopes, overrides), token);
    expectStatus(r, [201, 202], 'create credential');
    return { credential: r.body.credential, secret: r.body.secret, status: r.status };
  }

  /** Owner, product (all operations), agent: the usual starting point. */
  async world(): Promise<{ owner: any; product: any; agent: any }> {
    const owner = await this.owner();
    const product = await this.product();
    const agent = await this.agent(owner.id);
    return { owner, product, agent };
  }
}
