import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { RequestContext, systemContext } from '../auth/actor';
import { Clock, HOUR_MS } from '../common/clock/clock';
import { SecretBox } from '../common/crypto/secret-box';
import { isUniqueViolation } from '../common/db/pg-errors';
import { ConflictError, InvalidInputError, NotFoundError } from '../common/errors/domain-error';
import { mapPage, Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import { AppConfig } from '../config/app-config';
import { DeliveriesRepository } from './deliveries.repository';
import type { GatewayDto } from './dto/gateway.dto';
import { GatewayEntity, GatewayEnvironment, SealedSigningSecret } from './entities/gateway.entity';
import { gatewayUrlProblem } from './gateway-url';
import { GatewaysRepository } from './gateways.repository';
import { formatSigningSecret, SIGNING_SECRET_BYTES, signingKeyOf } from './webhook-signature';

/** After a rotation the previous signing key keeps signing this long, so gateways can switch over. */
export const SIGNING_SECRET_OVERLAP_MS = 24 * HOUR_MS;

/** Opened signing keys kept in memory at most (two per gateway during a rotation's overlap). */
const MAX_OPENED_KEYS = 10_000;

/** What a delivery needs of a gateway to sign for it. */
export interface GatewaySigningState {
  signingSecret: SealedSigningSecret;
  previousSigningSecret: SealedSigningSecret | null;
  previousSigningSecretExpiresAt: Date | null;
}

/**
 * The gateway registry. Signing secrets are shown once, at creation and at
 * rotation, and stored only sealed (AES-256-GCM under LOCAL_STORE_KEY, bound to
 * the gateway and the key's version).
 */
@Injectable()
export class GatewaysService {
  private readonly box: SecretBox;
  private readonly opened = new Map<string, Buffer>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: GatewaysRepository,
    private readonly deliveries: DeliveriesRepository,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly config: AppConfig,
  ) {
    this.box = new SecretBox(config.secretStores.local.key);
  }

  async create(
    ctx: RequestContext,
    input: { name: string; url: string; environments: GatewayEnvironment[]; batchEvents?: boolean },
  ): Promise<{ gateway: GatewayDto; signingSecret: string }> {
    this.assertUrl(input.url);
    const now = this.clock.now();
    const id = this.random.uuid();
    const signingSecret = formatSigningSecret(this.random.bytes(SIGNING_SECRET_BYTES));
    const gateway: GatewayEntity = {
      id,
      name: input.name,
      url: input.url,
      environments: [...new Set(input.environments)],
      status: 'active',
      batchEvents: input.batchEvents ?? false,
      signingSecret: this.seal(id, 1, signingSecret),
      previousSigningSecret: null,
      previousSigningSecretExpiresAt: null,
      signingSecretRotatedAt: null,
      disabledAt: null,
      disabledReason: null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.dataSource.transaction(async (em) => {
        await this.repository.insert(em, gateway);
        await this.audit.record(em, ctx, {
          action: 'gateway.created',
          targetType: 'gateway',
          targetId: id,
          data: { name: gateway.name, url: gateway.url, environments: gateway.environments, batchEvents: gateway.batchEvents },
        });
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError('GATEWAY_NAME_TAKEN', `A gateway named ${input.name} already exists.`);
      throw error;
    }
    return { gateway: toGatewayView(gateway), signingSecret };
  }

  async list(query: { limit?: number; cursor?: string }): Promise<Page<GatewayDto>> {
    return mapPage(await this.repository.list(query), toGatewayView);
  }

  async exists(id: string): Promise<boolean> {
    return (await this.repository.findById(id)) !== null;
  }

  async get(id: string): Promise<GatewayDto> {
    return toGatewayView(await this.find(id));
  }

  /** A gateway as the caller's transaction sees it, or null. */
  findIn(em: EntityManager, id: string): Promise<GatewayEntity | null> {
    return this.repository.findById(id, em);
  }

  async find(id: string): Promise<GatewayEntity> {
    const gateway = await this.repository.findById(id);
    if (!gateway) throw new NotFoundError('gateway', id);
    return gateway;
  }

  /**
   * A new signing secret, shown once. The previous one keeps signing (as a
   * second `v1,` signature) for 24 hours; a key older than that is dropped.
   */
  async rotateSigningSecret(ctx: RequestContext, id: string): Promise<{ gateway: GatewayDto; signingSecret: string }> {
    return this.dataSource.transaction(async (em) => {
      const gateway = await this.lockForChange(em, id);
      const now = this.clock.now();
      const signingSecret = formatSigningSecret(this.random.bytes(SIGNING_SECRET_BYTES));
      const version = gateway.signingSecret.version + 1;
      gateway.previousSigningSecret = gateway.signingSecret;
      gateway.previousSigningSecretExpiresAt = new Date(now.getTime() + SIGNING_SECRET_OVERLAP_MS);
      gateway.signingSecret = this.seal(id, version, signingSecret);
      gateway.signingSecretRotatedAt = now;
      gateway.updatedAt = now;
      await this.repository.saveSigningSecrets(em, gateway);
      await this.audit.record(em, ctx, {
        action: 'gateway.signing_secret_rotated',
        targetType: 'gateway',
        targetId: id,
        data: { version, previousValidUntil: gateway.previousSigningSecretExpiresAt.toISOString() },
      });
      return { gateway: toGatewayView(gateway), signingSecret };
    });
  }

  /** Changes how the gateway receives events (one per request, or batched); audited with the value before and after. */
  async update(ctx: RequestContext, id: string, changes: { batchEvents?: boolean }): Promise<GatewayDto> {
    return this.dataSource.transaction(async (em) => {
      const gateway = await this.lockForChange(em, id);
      if (changes.batchEvents === undefined || changes.batchEvents === gateway.batchEvents) return toGatewayView(gateway);
      const before = { batchEvents: gateway.batchEvents };
      gateway.batchEvents = changes.batchEvents;
      gateway.updatedAt = this.clock.now();
      await this.repository.saveDeliveryMode(em, gateway);
      await this.audit.record(em, ctx, {
        action: 'gateway.updated',
        targetType: 'gateway',
        targetId: id,
        data: { before, after: { batchEvents: gateway.batchEvents } },
      });
      return toGatewayView(gateway);
    });
  }

  /** Turns a disabled gateway back on; deliveries that failed meanwhile can be retried one by one. */
  async enable(ctx: RequestContext, id: string): Promise<GatewayDto> {
    return this.dataSource.transaction(async (em) => {
      const gateway = await this.lockForChange(em, id);
      if (gateway.status === 'active') return toGatewayView(gateway);
      const now = this.clock.now();
      const before = { disabledAt: gateway.disabledAt?.toISOString() ?? null, disabledReason: gateway.disabledReason };
      Object.assign(gateway, { status: 'active', disabledAt: null, disabledReason: null, updatedAt: now });
      await this.repository.markEnabled(em, id, now);
      await this.audit.record(em, ctx, { action: 'gateway.enabled', targetType: 'gateway', targetId: id, data: before });
      return toGatewayView(gateway);
    });
  }

  /**
   * The gateway answered 410 Gone: it is disabled, and every delivery still
   * pending for it fails now rather than waiting out its retries.
   */
  async disableGone(gatewayId: string, detail: string, requestId: string): Promise<void> {
    await this.dataSource.transaction(async (em) => {
      const now = this.clock.now();
      if (!(await this.repository.disableIfActive(em, gatewayId, detail, now))) return;
      const failed = await this.deliveries.failAllPendingFor(em, gatewayId, now, `gateway disabled: ${detail}`);
      await this.audit.record(em, systemContext('webhook-delivery', requestId), {
        action: 'gateway.disabled',
        targetType: 'gateway',
        targetId: gatewayId,
        data: { reason: detail, failedDeliveries: failed },
      });
    });
  }

  /** The keys that sign now: the current one, and the previous one during its overlap. */
  signingKeys(gatewayId: string, state: GatewaySigningState, now: Date): Buffer[] {
    const keys = [this.signingKey(gatewayId, state.signingSecret)];
    if (state.previousSigningSecret && state.previousSigningSecretExpiresAt && now < new Date(state.previousSigningSecretExpiresAt)) {
      keys.push(this.signingKey(gatewayId, state.previousSigningSecret));
    }
    return keys;
  }

  /** A sealed key opened once per process (each batch of a drain signs with it): keyed by gateway, version and nonce. */
  private signingKey(gatewayId: string, sealed: SealedSigningSecret): Buffer {
    const id = `${gatewayId}:${sealed.version}:${sealed.nonce}`;
    let key = this.opened.get(id);
    if (!key) {
      key = signingKeyOf(this.open(gatewayId, sealed));
      if (this.opened.size >= MAX_OPENED_KEYS) this.opened.clear();
      this.opened.set(id, key);
    }
    return key;
  }

  /** Whether the configured allowlist (if any) and address rules still admit this URL. */
  urlProblem(url: string): string | null {
    const { urlAllowlist, allowPrivateNetworks, allowLoopback } = this.config.gateways;
    return gatewayUrlProblem(url, urlAllowlist, { allowPrivateNetworks, allowLoopback });
  }

  private assertUrl(url: string): void {
    const problem = this.urlProblem(url);
    if (problem) throw InvalidInputError.field('url', problem);
  }

  private async lockForChange(em: EntityManager, id: string): Promise<GatewayEntity> {
    const gateway = await this.repository.lockForChange(em, id);
    if (!gateway) throw new NotFoundError('gateway', id);
    return gateway;
  }

  private seal(gatewayId: string, version: number, secret: string): SealedSigningSecret {
    const sealed = this.box.seal(secret, aad(gatewayId, version));
    return {
      version,
      nonce: sealed.nonce.toString('base64'),
      ciphertext: sealed.ciphertext.toString('base64'),
      authTag: sealed.authTag.toString('base64'),
      keyFingerprint: sealed.keyFingerprint,
    };
  }

  private open(gatewayId: string, sealed: SealedSigningSecret): string {
    return this.box.open(
      {
        nonce: Buffer.from(sealed.nonce, 'base64'),
        ciphertext: Buffer.from(sealed.ciphertext, 'base64'),
        authTag: Buffer.from(sealed.authTag, 'base64'),
        keyFingerprint: sealed.keyFingerprint,
      },
      aad(gatewayId, sealed.version),
    );
  }
}

function aad(gatewayId: string, version: number): string {
  return `gateway-signing-secret:${gatewayId}:${version}`;
}

export function toGatewayView(gateway: GatewayEntity): GatewayDto {
  const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
  return {
    id: gateway.id,
    name: gateway.name,
    url: gateway.url,
    environments: gateway.environments,
    status: gateway.status,
    batchEvents: gateway.batchEvents,
    signingSecretVersion: gateway.signingSecret.version,
    signingSecretRotatedAt: iso(gateway.signingSecretRotatedAt),
    previousSigningSecretExpiresAt: iso(gateway.previousSigningSecretExpiresAt),
    disabledAt: iso(gateway.disabledAt),
    disabledReason: gateway.disabledReason,
    createdAt: gateway.createdAt.toISOString(),
    updatedAt: gateway.updatedAt.toISOString(),
  };
}
