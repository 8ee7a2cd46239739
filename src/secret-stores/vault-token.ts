import { Logger } from '@nestjs/common';
import type NodeVault from 'node-vault';

import { Clock } from '../common/clock/clock';

export interface VaultLogin {
  /** A static token (VAULT_TOKEN); renewed while renewable. */
  token?: string;
  /** AppRole ids (VAULT_ROLE_ID/VAULT_SECRET_ID); preferred over the token when both are set. */
  roleId?: string;
  secretId?: string;
}

/** Renew once two thirds of the lease has gone, leaving a third for a slow or failed attempt. */
const RENEW_AT_FRACTION = 2 / 3;
const RETRY_RENEWAL_AFTER_MS = 5000;

/**
 * Keeps the Vault client's token valid. With AppRole it logs in on first use,
 * renews the token before it expires, and logs in again when Vault refuses a
 * renewal (token revoked, expired, not renewable, or capped by its max TTL).
 * With a static token it renews while Vault allows and otherwise keeps using it.
 *
 * "Due" is judged on the injected Clock at each call; an unref'd timer also
 * renews an idle process so its token does not lapse between calls.
 */
export class VaultTokenKeeper {
  private readonly logger = new Logger('VaultSecretStore');
  private started = false;
  private renewAt: number | null = null;
  private renewable = false;
  private loginLeaseSeconds = 0;
  private inflight: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly client: NodeVault.client,
    private readonly login: VaultLogin,
    private readonly clock: Clock,
  ) {
    if (login.token && !this.usesAppRole) client.token = login.token;
  }

  get usesAppRole(): boolean {
    return Boolean(this.login.roleId && this.login.secretId);
  }

  /** Call before each request: logs in on first use and renews when due. */
  async ensure(): Promise<void> {
    if (this.started && (this.renewAt === null || this.clock.now().getTime() < this.renewAt)) return;
    await this.once(() => (this.started ? this.renew() : this.start()));
  }

  /**
   * After a 403: the token was revoked or expired underneath us. With AppRole
   * logs in again and answers true (the caller retries once); otherwise false.
   */
  async recover(): Promise<boolean> {
    if (!this.usesAppRole) return false;
    await this.once(() => this.appRoleLogin());
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async start(): Promise<void> {
    if (this.usesAppRole) {
      await this.appRoleLogin();
    } else {
      // The token's own TTL decides whether it needs renewing: root and periodic-less tokens report 0.
      const looked = (await this.client.tokenLookupSelf()) as { data?: { ttl?: number; renewable?: boolean } };
      this.schedule(Number(looked.data?.ttl ?? 0), Boolean(looked.data?.renewable));
      this.loginLeaseSeconds = Number(looked.data?.ttl ?? 0);
    }
    this.started = true;
  }

  private async appRoleLogin(): Promise<void> {
    // node-vault sets client.token from the answer (tokenSource).
    const answer = (await this.client.approleLogin({ role_id: this.login.roleId, secret_id: this.login.secretId })) as {
      auth?: { lease_duration?: number; renewable?: boolean };
    };
    const lease = Number(answer.auth?.lease_duration ?? 0);
    this.loginLeaseSeconds = lease;
    this.schedule(lease, Boolean(answer.auth?.renewable));
    this.started = true;
  }

  private async renew(): Promise<void> {
    if (!this.renewable) {
      if (this.usesAppRole) return this.appRoleLogin();
      this.logger.warn({ store: 'vault' }, 'VAULT_TOKEN is not renewable; it will stop working at the end of its TTL');
      this.renewAt = null;
      return;
    }
    let answer: { auth?: { lease_duration?: number; renewable?: boolean } };
    try {
      answer = await this.client.tokenRenewSelf({});
    } catch (error) {
      const status = (error as { response?: { statusCode?: number } }).response?.statusCode;
      if (status !== undefined && status >= 400 && status < 500) {
        // Refused: the token is gone or at its limit. Only AppRole can get a new one.
        if (this.usesAppRole) return this.appRoleLogin();
        this.logger.error({ store: 'vault', status }, 'Vault refused to renew VAULT_TOKEN; give the service a new token');
        this.renewAt = null;
        return;
      }
      // Vault is unreachable or failing: the token is still valid for a while, so try again shortly.
      this.logger.warn({ store: 'vault', status: status ?? 'no answer' }, 'could not renew the Vault token; will retry');
      this.renewAt = this.clock.now().getTime() + RETRY_RENEWAL_AFTER_MS;
      return;
    }
    const lease = Number(answer.auth?.lease_duration ?? 0);
    if (this.usesAppRole && (lease <= 0 || lease < this.loginLeaseSeconds / 2)) {
      // Capped by the token's max TTL: a fresh login beats renewing a token that is about to die.
      return this.appRoleLogin();
    }
    this.schedule(lease, answer.auth?.renewable !== false);
  }

  private schedule(leaseSeconds: number, renewable: boolean): void {
    this.renewable = renewable;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (leaseSeconds <= 0) {
      this.renewAt = null;
      return;
    }
    const delayMs = Math.floor(leaseSeconds * 1000 * RENEW_AT_FRACTION);
    this.renewAt = this.clock.now().getTime() + delayMs;
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.once(() => this.renew()).catch((error: unknown) =>
        this.logger.warn({ store: 'vault', err: (error as Error).name }, 'background Vault token renewal failed'),
      );
    }, delayMs);
    this.timer.unref();
  }

  /** One login or renewal at a time; concurrent callers wait for it. */
  private once(work: () => Promise<void>): Promise<void> {
    this.inflight ??= work().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }
}
