import { Fixtures } from './fixtures';
import { GatewayReceiver } from './gateway-receiver';
import type { TestApp } from './test-app';

/** One resource of each kind, so that every documented path can be filled with a real id. */
export interface RouteWorld {
  /** By the path segment that names the resource: owners, agents, credentials, campaigns, items, ... */
  ids: Record<string, string>;
  ownerToken: string;
  /** A gateway token of the world's gateway (usage ingestion is for gateways only). */
  gatewayToken: string;
  product: string;
  receiver: GatewayReceiver;
}

/**
 * Builds the world through the API: an owner with an agent and credentials,
 * a gateway (so deliveries exist), a rotation, a revocation, a campaign with
 * an item, a schedule and a token. Background work (deliveries, rotation
 * steps) is left to the caller to wait for.
 */
export async function buildRouteWorld(t: TestApp): Promise<RouteWorld> {
  const f = new Fixtures(t);
  const receiver = await GatewayReceiver.start();
  const ok = <R extends { status: number; text: string }>(r: R, what: string): R => {
    if (r.status >= 300) throw new Error(`${what}: ${r.status} ${r.text}`);
    return r;
  };
  const gateway = ok(
    await t.http.post('/v1/gateways', { name: 'gw-routes', url: receiver.url, environments: ['production', 'sandbox'] }, t.adminToken),
    'gateway',
  );
  const { owner, product, agent } = await f.world();
  const ownerToken = await f.token('owner', owner.id);
  const credential = await f.credential(agent.id, [`${product.name}:read`, `${product.name}:write`]);
  const revoked = await f.credential(agent.id, [`${product.name}:read`]);
  const revocation = ok(
    await t.http.post(`/v1/credentials/${revoked.credential.id}/revoke`, { reason: 'route world' }, t.adminToken),
    'revoke',
  );
  const rotated = await f.credential(agent.id, [`${product.name}:read`], { environment: 'sandbox' });
  const rotation = ok(await t.http.post(`/v1/credentials/${rotated.credential.id}/rotate`, {}, t.adminToken), 'rotate');
  const campaign = ok(await t.http.post('/v1/campaigns', { name: 'route world', ownerIds: [owner.id] }, t.adminToken), 'campaign');
  const items = ok(await t.http.get(`/v1/campaigns/${campaign.body.id}/items`, t.adminToken), 'items');
  const schedule = ok(await t.http.post('/v1/campaign-schedules', { name: 'route world' }, t.adminToken), 'schedule');
  const token = await f.token('auditor');
  const gatewayToken = await f.token('gateway', undefined, gateway.body.gateway.id);
  const deliveries = ok(await t.http.get(`/v1/gateways/${gateway.body.gateway.id}/deliveries`, t.adminToken), 'deliveries');
  const productRow = ok(await t.http.get(`/v1/products/${product.id}`, t.adminToken), 'product');
  return {
    ids: {
      owners: owner.id,
      products: productRow.body.id,
      agents: agent.id,
      credentials: credential.credential.id,
      gateways: gateway.body.gateway.id,
      deliveries: deliveries.body.items[0]?.id,
      revocations: revocation.body.revocationId,
      rotations: rotation.body.rotationId,
      campaigns: campaign.body.id,
      items: items.body.items[0]?.id,
      'campaign-schedules': schedule.body.id,
      tokens: token.id,
    },
    ownerToken: ownerToken.token,
    gatewayToken: gatewayToken.token,
    product: product.name,
    receiver,
  };
}
