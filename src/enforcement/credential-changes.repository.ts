import { Injectable } from '@nestjs/common';
import type { Client } from 'pg';
import { EntityManager } from 'typeorm';

/** The Postgres channel that carries credential changes to every replica's verification cache. */
export const CREDENTIAL_CHANGES_CHANNEL = 'agc_credential_changes';

/** A payload that tells listeners to drop everything (more ids than one notification carries). */
export const ALL_CREDENTIALS = '*';

/**
 * Sends a credential-change notification inside the caller's transaction.
 * Postgres delivers it to the listeners only when (and if) that transaction
 * commits, so a replica never drops its cache entry before the change is
 * durable, and always hears of it once it is.
 */
@Injectable()
export class CredentialChangesRepository {
  async notify(em: EntityManager, payloads: string[]): Promise<void> {
    if (payloads.length === 0) return;
    await em.query(`SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, [CREDENTIAL_CHANGES_CHANNEL, payloads]);
  }
}

/** Subscribes a dedicated connection (the listener's own pg client) to these channels (fixed identifiers, never input). */
export async function listenOn(client: Client, channels: readonly string[]): Promise<void> {
  for (const channel of channels) await client.query(`LISTEN ${channel}`);
}
