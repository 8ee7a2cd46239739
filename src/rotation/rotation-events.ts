import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';

import { EventOutboxService } from '../gateways/event-outbox.service';
import type { Credential } from '../inventory/credential';
import { credentialEventData } from '../inventory/credential-views';
import type { RotationEntity } from './entities/rotation.entity';

type RotatedRotation = Pick<RotationEntity, 'id' | 'fromVersion' | 'toVersion' | 'immediate'>;
type RotatedVersion = { newSecretSha256: string; newSecretRef: string; graceEndsAt: Date };

/**
 * The events a rotation sends the gateways, through the outbox, inside the
 * caller's transaction with the credential row locked (so they are delivered
 * in order with the credential's other events, and never after its
 * `credential.revoked`). Each carries the credential's enforcement data; the
 * new version is described by its SHA-256 and store reference, never the secret.
 */
@Injectable()
export class RotationEvents {
  constructor(private readonly outbox: EventOutboxService) {}

  /** A new version exists; both it and the previous one are valid until `graceEndsAt`. */
  async rotated(em: EntityManager, credential: Credential, rotation: RotatedRotation, version: RotatedVersion): Promise<void> {
    await this.rotatedMany(em, [{ credential, rotation, version }]);
  }

  /** `rotated` for several credentials, in one round trip. */
  async rotatedMany(
    em: EntityManager,
    items: Array<{ credential: Credential; rotation: RotatedRotation; version: RotatedVersion }>,
  ): Promise<void> {
    if (items.length === 0) return;
    await this.outbox.publishMany(
      em,
      items.map(({ credential, rotation, version }) => ({
        type: 'credential.rotated' as const,
        credentialId: credential.id,
        environment: credential.environment,
        data: {
          ...credentialEventData(credential),
          secretVersion: rotation.toVersion,
          secretSha256: version.newSecretSha256,
          secretRef: version.newSecretRef,
          previousVersion: rotation.fromVersion,
          graceEndsAt: version.graceEndsAt.toISOString(),
          rotationId: rotation.id,
          immediate: rotation.immediate,
        },
      })),
    );
  }

  /** The previous versions are destroyed: no longer valid anywhere. In one round trip. */
  async versionRetiredMany(
    em: EntityManager,
    items: Array<{ credential: Credential; rotation: Pick<RotationEntity, 'id' | 'fromVersion'> }>,
  ): Promise<void> {
    if (items.length === 0) return;
    await this.outbox.publishMany(
      em,
      items.map(({ credential, rotation }) => ({
        type: 'credential.version_retired' as const,
        credentialId: credential.id,
        environment: credential.environment,
        data: { ...credentialEventData(credential), retiredVersion: rotation.fromVersion, rotationId: rotation.id },
      })),
    );
  }

  /** The rotation gave up; the credential keeps its current version (the one in `data`). */
  async failed(
    em: EntityManager,
    credential: Credential,
    rotation: Pick<RotationEntity, 'id' | 'fromVersion' | 'toVersion' | 'step'>,
    failure: { attempts: number; error: string },
  ): Promise<void> {
    await this.outbox.publish(em, {
      type: 'rotation.failed',
      credentialId: credential.id,
      environment: credential.environment,
      data: {
        ...credentialEventData(credential),
        rotationId: rotation.id,
        fromVersion: rotation.fromVersion,
        toVersion: rotation.toVersion,
        step: rotation.step,
        attempts: failure.attempts,
        error: failure.error,
      },
    });
  }
}
