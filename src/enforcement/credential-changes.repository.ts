import { Injectable } from '@nestjs/common';
import type { Client } from 'pg';
import { EntityManager } from 'typeorm';

import { TransactionNotifications } from '../common/db/transaction-notifications';

/** The Postgres channel that carries credential changes to every replica's verification cache. */
export const CREDENTIAL_CHANGES_CHANNEL = 'agc_credential_changes';

/** A payload that tells listeners to drop everything (more ids than one notification carries). */
export const ALL_CREDENTIALS = '*';

/**
 * Sends a credential-change notification inside the caller's transaction.
 * Postgres delivers it to the listeners only when (and if) that transaction
 * commits, so a replica never drops its cache entry before the change is
 * durable, and always hears of it once it is. It goes with a later statement
 * of the transaction (the audit append) or just before COMMIT
 * (src/common/db/transaction-notifications.ts), not as a round trip of its own.
 */
@Injectable()
export class CredentialChangesRepository {
  constructor(private readonly notifications: TransactionNotifications) {}

  notify(em: EntityManager, payloads: string[]): Promise<void> {
    return this.notifications.send(em, CREDENTIAL_CHANGES_CHANNEL, payloads);
  }
}

/** Subscribes a dedicated connection (the listener's own pg client) to these channels (fixed identifiers, never input). */
export async function listenOn(client: Client, channels: readonly string[]): Promise<void> {
  for (const channel of channels) await client.query(`LISTEN ${channel}`);
}
