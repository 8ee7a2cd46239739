import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Client, Notification } from 'pg';

import { API_TOKEN_CHANGES_CHANNEL, ApiTokenCache } from '../auth/api-token-cache';
import { ShutdownParticipant, ShutdownPhase, ShutdownStep } from '../common/shutdown/shutdown-step';
import { AppConfig } from '../config/app-config';
import { ClientAuthCache } from '../oauth/client-auth-cache';
import { TokenClientCache } from '../oauth/token-client-cache';
import { CredentialChangeNotifier } from './credential-change-notifier.service';
import { ALL_CREDENTIALS, CREDENTIAL_CHANGES_CHANNEL, listenOn } from './credential-changes.repository';
import { VerificationCache } from './verification-cache';

/** Waits between attempts to reconnect the listening connection: from the first to the last, doubling. */
const RECONNECT_FIRST_MS = 50;
const RECONNECT_MAX_MS = 2_000;
/** How long a connection may take before it counts as failed. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * The replica's dedicated LISTEN connection (a pg client of its own, outside
 * the pool) for the hot path's caches:
 *
 * - the channel the CredentialChangeNotifier writes to: each notification drops
 *   the named credentials from the verification cache and from the oauth
 *   module's TokenClientCache (src/oauth/token-client-cache.ts) and
 *   ClientAuthCache (src/oauth/client-auth-cache.ts);
 * - the auth module's API token channel: each notification drops that token
 *   from the ApiTokenCache (src/auth/api-token-cache.ts).
 *
 * The caches are on only while this connection listens: when it is lost, all
 * are dropped and switched off (every call reads Postgres), and switched on
 * again, empty, once LISTEN succeeds again.
 */
@Injectable()
export class CredentialChangeListener implements OnApplicationBootstrap, ShutdownParticipant {
  private readonly logger = new Logger('CredentialChangeListener');
  private client: Client | null = null;
  private stopped = false;
  private reconnectDelayMs = RECONNECT_FIRST_MS;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private connecting: Promise<void> | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly cache: VerificationCache,
    private readonly tokenClients: TokenClientCache,
    private readonly clientAuth: ClientAuthCache,
    private readonly apiTokens: ApiTokenCache,
    private readonly notifier: CredentialChangeNotifier,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.roles.includes('api')) return;
    // This replica's own changes drop their entries at commit, ahead of the NOTIFY.
    this.notifier.onLocalChange((ids) => this.credentialsChanged(ids));
    await this.connect();
  }

  /** Whether the cache may be used: LISTEN is in force. */
  get listening(): boolean {
    return this.cache.enabled;
  }

  shutdownSteps(): ShutdownStep[] {
    return [
      {
        phase: ShutdownPhase.Connections,
        name: 'credential change listener',
        count: 1,
        close: async () => {
          this.stopped = true;
          if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
          const client = this.client;
          this.client = null;
          this.resetAll(false);
          if (client) await client.end().catch(() => undefined);
        },
      },
    ];
  }

  /** Drops the connection as a network failure would (tests of the reload path). */
  dropConnectionForTest(): void {
    const client = this.client as (Client & { connection?: { stream?: { destroy(): void } } }) | null;
    client?.connection?.stream?.destroy();
  }

  private connect(): Promise<void> {
    this.connecting ??= this.tryConnect().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async tryConnect(): Promise<void> {
    if (this.stopped) return;
    const client = new Client({
      connectionString: this.config.database.url,
      application_name: 'agent-credentials-listener',
      keepAlive: true,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    client.on('notification', (message) => this.onNotification(message));
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, null));
    try {
      await client.connect();
      await listenOn(client, [CREDENTIAL_CHANGES_CHANNEL, API_TOKEN_CHANGES_CHANNEL]);
    } catch (error) {
      await client.end().catch(() => undefined);
      this.lost(client, error as Error);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.reconnectDelayMs = RECONNECT_FIRST_MS;
    // Anything changed while nobody listened is unknown: start empty.
    this.resetAll(true);
    this.logger.log('listening for credential and API token changes; caches on');
  }

  private onNotification(message: Notification): void {
    if (message.channel === API_TOKEN_CHANGES_CHANNEL) {
      if (message.payload) this.apiTokens.invalidate([message.payload]);
      else this.apiTokens.reset(true);
      return;
    }
    if (message.channel !== CREDENTIAL_CHANGES_CHANNEL) return;
    this.credentialsChanged((message.payload ?? ALL_CREDENTIALS).split(','));
  }

  private credentialsChanged(ids: readonly string[]): void {
    if (ids.includes(ALL_CREDENTIALS)) {
      // reset(true) keeps a cache off while LISTEN is down: it only empties one that is on.
      if (this.cache.enabled) {
        this.cache.reset(true);
        this.tokenClients.reset(true);
        this.clientAuth.reset(true);
      }
      return;
    }
    this.cache.invalidate(ids);
    this.tokenClients.invalidate(ids);
    this.clientAuth.invalidate(ids);
  }

  private resetAll(enabled: boolean): void {
    this.cache.reset(enabled);
    this.tokenClients.reset(enabled);
    this.clientAuth.reset(enabled);
    this.apiTokens.reset(enabled);
  }

  private lost(client: Client, error: Error | null): void {
    if (this.client !== null && this.client !== client) return;
    const wasListening = this.client === client;
    this.client = null;
    this.resetAll(false);
    if (this.stopped) return;
    if (wasListening) {
      this.logger.warn(`credential change listener lost (${error?.message ?? 'connection ended'}); caches off until it is back`);
    }
    if (this.reconnectTimer) return;
    const delay = this.reconnectDelayMs;
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, RECONNECT_MAX_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }
}
