import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

import { DoubleResponse, FaultStatus, HttpDouble, RecordedCall } from './http-double';

/**
 * A HashiCorp Vault double speaking the HTTP API described in
 * docs/protocols.md "HashiCorp Vault, KV secrets engine v2": KV v2
 * (data, metadata, delete/undelete/destroy, check-and-set, max_versions,
 * custom_metadata, deleted-vs-missing 404s), token auth (lookup-self,
 * renew-self, TTLs and max TTLs), AppRole login, namespaces (by header),
 * sys/health, seal/unseal, and the `{"errors":[...]}` error bodies.
 * Time is the wall clock plus an offset tests can move (`advanceTime`), so token
 * TTLs can run out without waiting.
 */

export interface AppRoleSpec {
  roleId: string;
  secretId: string;
  /** token_ttl in seconds */
  tokenTtl: number;
  /** token_max_ttl in seconds; 0 = none */
  tokenMaxTtl?: number;
  renewable?: boolean;
}

export interface TokenSpec {
  /** seconds; 0 = never expires (like a root token) */
  ttl?: number;
  /** seconds; 0 = none */
  maxTtl?: number;
  renewable?: boolean;
  policies?: string[];
  /** Paths (after /v1/) this token may use; everything else is 403 permission denied. */
  allow?: RegExp;
}

interface TokenInfo {
  id: string;
  accessor: string;
  policies: string[];
  creationTtl: number;
  issuedAt: number;
  expiresAt: number | null;
  maxExpiresAt: number | null;
  renewable: boolean;
  allow?: RegExp;
  path: string;
  meta: Record<string, string> | null;
}

interface KvVersion {
  data: Record<string, unknown> | null;
  createdTime: string;
  deletionTime: string;
  destroyed: boolean;
}

interface KvKey {
  createdTime: string;
  updatedTime: string;
  currentVersion: number;
  oldestVersion: number;
  maxVersions: number;
  casRequired: boolean;
  customMetadata: Record<string, string> | null;
  deleteVersionAfter: string;
  versions: Map<number, KvVersion>;
}

export interface VaultDoubleOptions {
  rootToken?: string;
  /** KV v2 mounts; `secret` by default. */
  mounts?: string[];
  appRoles?: AppRoleSpec[];
  /** The mount's max_versions, used when a key's own is 0. */
  mountMaxVersions?: number;
}

const BAD_TOKEN = '2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n';
const DENIED = '1 error occurred:\n\t* permission denied\n\n';

export class VaultDouble extends HttpDouble {
  readonly rootToken: string;
  private readonly mounts: string[];
  private readonly appRoles: AppRoleSpec[];
  private readonly mountMaxVersions: number;
  private readonly tokens = new Map<string, TokenInfo>();
  /** `<namespace>|<mount>|<path>` → key */
  private readonly kv = new Map<string, KvKey>();
  private sealedNow = false;
  private standbyNow = false;
  private offsetMs = 0;

  constructor(options: VaultDoubleOptions = {}) {
    super();
    this.rootToken = options.rootToken ?? 'root-token-double';
    this.mounts = options.mounts ?? ['secret'];
    this.appRoles = options.appRoles ?? [];
    this.mountMaxVersions = options.mountMaxVersions ?? 10;
    this.addToken(this.rootToken, { ttl: 0, renewable: false, policies: ['root'] }, 'auth/token/root');
  }

  // ---- test controls -------------------------------------------------------

  /** Moves the double's clock forward (token TTLs, timestamps). */
  advanceTime(ms: number): void {
    this.offsetMs += ms;
  }

  now(): number {
    return Date.now() + this.offsetMs;
  }

  seal(): void {
    this.sealedNow = true;
  }

  unseal(): void {
    this.sealedNow = false;
  }

  get sealed(): boolean {
    return this.sealedNow;
  }

  setStandby(standby: boolean): void {
    this.standbyNow = standby;
  }

  /** Creates a token (as `vault token create` would) and returns it. */
  createToken(spec: TokenSpec = {}): string {
    const id = `hvs.${randomBytes(18).toString('base64url')}`;
    this.addToken(id, spec, 'auth/token/create');
    return id;
  }

  revokeToken(token: string): void {
    this.tokens.delete(token);
  }

  /** Lets a token lapse now, as if its TTL had run out. */
  expireToken(token: string): void {
    const info = this.tokens.get(token);
    if (info) info.expiresAt = this.now() - 1;
  }

  tokenInfo(token: string): Readonly<TokenInfo> | undefined {
    return this.tokens.get(token);
  }

  /** Stored keys as `[namespace/]mount/path`, for "nothing is left" assertions. */
  keys(): string[] {
    return [...this.kv.keys()].map((k) => {
      const [ns, mount, path] = k.split('|');
      return `${ns ? `${ns}/` : ''}${mount}/${path}`;
    });
  }

  key(path: string, mount = 'secret', namespace = ''): Readonly<KvKey> | undefined {
    return this.kv.get(`${namespace}|${mount}|${path}`);
  }

  // ---- protocol ------------------------------------------------------------

  protected operationOf(req: IncomingMessage): string {
    const path = new URL(req.url ?? '/', 'http://double').pathname.replace(/^\/v1\//, '');
    return `${normalizeMethod(req.method)} ${path}`;
  }

  protected badJson(): DoubleResponse {
    return errors(400, ['failed to parse JSON input: invalid character']);
  }

  protected faultResponse(status: FaultStatus, _type: string | undefined, call: RecordedCall): DoubleResponse {
    if (status === 503) return errors(503, ['Vault is sealed']);
    if (status === 429) return errors(429, [`request path "${call.path}": rate limit quota exceeded`]);
    if (status === 400) return errors(400, ['invalid request']);
    return errors(status, ['internal error']);
  }

  protected handle(call: RecordedCall, req: IncomingMessage): DoubleResponse {
    const url = new URL(req.url ?? '/', 'http://double');
    if (!url.pathname.startsWith('/v1/')) return errors(404, []);
    const route = url.pathname.slice(4).replace(/\/+$/, '');
    const method = normalizeMethod(req.method);
    const body = (call.body ?? {}) as Record<string, unknown>;

    if (route === 'sys/health') return this.health();
    if (this.sealedNow) return errors(503, ['Vault is sealed']);
    if (route === 'auth/approle/login') {
      if (method !== 'POST') return unsupported();
      return this.appRoleLogin(body);
    }

    const token = tokenOf(req);
    if (!token) return errors(403, ['permission denied']);
    const info = this.liveToken(token);
    if (!info) return errors(403, [BAD_TOKEN]);
    if (info.allow && !info.allow.test(route)) return errors(403, [DENIED]);

    if (route === 'auth/token/lookup-self') return ok(this.lookup(info));
    if (route === 'auth/token/renew-self') {
      if (method !== 'POST') return unsupported();
      return this.renew(info, body);
    }

    const mount = this.mounts.find((m) => route === m || route.startsWith(`${m}/`));
    if (!mount) return errors(404, [`no handler for route "${route}". route entry not found.`]);
    const rest = route.slice(mount.length + 1);
    const slash = rest.indexOf('/');
    const kind = slash === -1 ? rest : rest.slice(0, slash);
    const path = slash === -1 ? '' : rest.slice(slash + 1);
    const namespace = String(req.headers['x-vault-namespace'] ?? '').replace(/^\/+|\/+$/g, '');
    const id = `${namespace}|${mount}|${path}`;

    switch (kind) {
      case 'data':
        if (!path) return errors(404, []);
        if (method === 'GET') return this.readData(id, url.searchParams.get('version'));
        if (method === 'POST') return this.writeData(id, body);
        if (method === 'DELETE') return this.softDeleteLatest(id);
        return unsupported();
      case 'metadata':
        if (method === 'GET' && isTrue(url.searchParams.get('list'))) return this.list(namespace, mount, path);
        if (!path) return errors(404, []);
        if (method === 'GET') return this.readMetadata(id);
        if (method === 'POST') return this.writeMetadata(id, body);
        if (method === 'DELETE') {
          this.kv.delete(id);
          return { status: 204 };
        }
        return unsupported();
      case 'delete':
      case 'undelete':
      case 'destroy':
        if (method !== 'POST' || !path) return unsupported();
        return this.changeVersions(kind, id, body);
      default:
        return errors(404, [`no handler for route "${route}". route entry not found.`]);
    }
  }

  private health(): DoubleResponse {
    const status = this.sealedNow ? 503 : this.standbyNow ? 429 : 200;
    return {
      status,
      headers: { 'content-type': 'application/json' },
      body: {
        initialized: true,
        sealed: this.sealedNow,
        standby: this.standbyNow,
        performance_standby: false,
        replication_performance_mode: 'disabled',
        replication_dr_mode: 'disabled',
        server_time_utc: Math.floor(this.now() / 1000),
        version: '1.17.0+double',
        cluster_name: 'vault-double',
        cluster_id: '00000000-0000-0000-0000-000000000000',
      },
    };
  }

  private appRoleLogin(body: Record<string, unknown>): DoubleResponse {
    if (typeof body.role_id !== 'string' || body.role_id === '') return errors(400, ['missing role_id']);
    const role = this.appRoles.find((r) => r.roleId === body.role_id && r.secretId === body.secret_id);
    if (!role) return errors(400, ['invalid role or secret ID']);
    const id = `hvs.${randomBytes(18).toString('base64url')}`;
    // A login's lease is its TTL, capped by the max TTL.
    const lease = role.tokenMaxTtl ? Math.min(role.tokenTtl, role.tokenMaxTtl) : role.tokenTtl;
    const info = this.addToken(
      id,
      { ttl: lease, maxTtl: role.tokenMaxTtl ?? 0, renewable: role.renewable ?? true, policies: ['default', 'agc'] },
      'auth/approle/login',
    );
    info.creationTtl = role.tokenTtl;
    info.meta = { role_name: 'agc' };
    return ok(null, { auth: this.authBlock(info, lease) });
  }

  private lookup(info: TokenInfo): Record<string, unknown> {
    return {
      accessor: info.accessor,
      creation_time: Math.floor(info.issuedAt / 1000),
      creation_ttl: info.creationTtl,
      display_name: info.path === 'auth/token/root' ? 'root' : 'token',
      entity_id: '',
      expire_time: info.expiresAt === null ? null : new Date(info.expiresAt).toISOString(),
      explicit_max_ttl: 0,
      id: info.id,
      issue_time: new Date(info.issuedAt).toISOString(),
      meta: info.meta,
      num_uses: 0,
      orphan: true,
      path: info.path,
      policies: info.policies,
      renewable: info.renewable,
      ttl: info.expiresAt === null ? 0 : Math.max(0, Math.floor((info.expiresAt - this.now()) / 1000)),
      type: 'service',
    };
  }

  private renew(info: TokenInfo, body: Record<string, unknown>): DoubleResponse {
    if (!info.renewable) return errors(400, ['lease is not renewable']);
    const increment = typeof body.increment === 'number' ? body.increment : (parseDuration(body.increment) ?? info.creationTtl);
    const now = this.now();
    let ttl = increment;
    const warnings: string[] = [];
    if (info.maxExpiresAt !== null) {
      const left = Math.max(0, Math.floor((info.maxExpiresAt - now) / 1000));
      if (ttl > left) {
        ttl = left;
        warnings.push(`TTL of "${increment}s" exceeded the effective max_ttl of "${left}s"; TTL value is capped accordingly`);
      }
    }
    info.expiresAt = now + ttl * 1000;
    return ok(null, { auth: this.authBlock(info, ttl), warnings: warnings.length ? warnings : null });
  }

  private authBlock(info: TokenInfo, lease: number): Record<string, unknown> {
    return {
      client_token: info.id,
      accessor: info.accessor,
      policies: info.policies,
      token_policies: info.policies,
      metadata: info.meta,
      lease_duration: lease,
      renewable: info.renewable,
      entity_id: '',
      token_type: 'service',
      orphan: true,
      mfa_requirement: null,
      num_uses: 0,
    };
  }

  private readData(id: string, versionParam: string | null): DoubleResponse {
    const key = this.kv.get(id);
    const asked = versionParam ? Number(versionParam) : 0;
    if (!Number.isInteger(asked) || asked < 0) return errors(400, ['invalid version']);
    if (!key || key.currentVersion === 0) return errors(404, []);
    const number = asked || key.currentVersion;
    const version = key.versions.get(number);
    if (!version) return errors(404, []);
    const metadata = {
      created_time: version.createdTime,
      custom_metadata: key.customMetadata,
      deletion_time: version.deletionTime,
      destroyed: version.destroyed,
      version: number,
    };
    if (version.destroyed || version.deletionTime) {
      // Deleted or destroyed: a 404 whose body is success-shaped, data null, metadata filled.
      return { ...ok({ data: null, metadata }), status: 404 };
    }
    return ok({ data: version.data, metadata });
  }

  private writeData(id: string, body: Record<string, unknown>): DoubleResponse {
    if (!isObject(body.data)) return errors(400, ['no data provided']);
    const options = isObject(body.options) ? body.options : {};
    const existing = this.kv.get(id);
    const cas = options.cas;
    if (cas !== undefined && (typeof cas !== 'number' || !Number.isInteger(cas))) return errors(400, ['invalid cas parameter']);
    if (existing?.casRequired && cas === undefined) return errors(400, ['check-and-set parameter required for this call']);
    if (cas !== undefined && cas !== (existing?.currentVersion ?? 0)) {
      return errors(400, ['check-and-set parameter did not match the current version']);
    }
    const key = existing ?? this.newKey();
    this.kv.set(id, key);
    const now = new Date(this.now()).toISOString();
    const number = key.currentVersion + 1;
    key.versions.set(number, { data: structuredClone(body.data), createdTime: now, deletionTime: '', destroyed: false });
    key.currentVersion = number;
    key.updatedTime = now;
    const max = key.maxVersions || this.mountMaxVersions;
    while (key.versions.size > max) {
      const oldest = Math.min(...key.versions.keys());
      key.versions.delete(oldest);
      key.oldestVersion = Math.min(...key.versions.keys());
    }
    return ok({ created_time: now, custom_metadata: key.customMetadata, deletion_time: '', destroyed: false, version: number });
  }

  private softDeleteLatest(id: string): DoubleResponse {
    const key = this.kv.get(id);
    const latest = key?.versions.get(key.currentVersion);
    if (latest && !latest.destroyed && !latest.deletionTime) latest.deletionTime = new Date(this.now()).toISOString();
    return { status: 204 };
  }

  private changeVersions(kind: 'delete' | 'undelete' | 'destroy', id: string, body: Record<string, unknown>): DoubleResponse {
    const versions = body.versions;
    if (!Array.isArray(versions) || versions.length === 0) return errors(400, ['no version number provided']);
    if (!versions.every((v) => Number.isInteger(v))) return errors(400, ['invalid version number']);
    const key = this.kv.get(id);
    if (!key) return { status: 204 };
    const now = new Date(this.now()).toISOString();
    for (const n of versions as number[]) {
      const version = key.versions.get(n);
      if (!version) continue;
      if (kind === 'destroy') {
        version.destroyed = true;
        version.data = null;
      } else if (kind === 'delete') {
        if (!version.destroyed && !version.deletionTime) version.deletionTime = now;
      } else if (!version.destroyed) {
        version.deletionTime = '';
      }
    }
    key.updatedTime = now;
    return { status: 204 };
  }

  private readMetadata(id: string): DoubleResponse {
    const key = this.kv.get(id);
    if (!key) return errors(404, []);
    const versions: Record<string, unknown> = {};
    for (const [n, v] of key.versions) {
      versions[String(n)] = { created_time: v.createdTime, deletion_time: v.deletionTime, destroyed: v.destroyed };
    }
    return ok({
      cas_required: key.casRequired,
      created_time: key.createdTime,
      current_version: key.currentVersion,
      custom_metadata: key.customMetadata,
      delete_version_after: key.deleteVersionAfter,
      max_versions: key.maxVersions,
      oldest_version: key.oldestVersion,
      updated_time: key.updatedTime,
      versions,
    });
  }

  private writeMetadata(id: string, body: Record<string, unknown>): DoubleResponse {
    const problems: string[] = [];
    if (body.max_versions !== undefined && !(Number.isInteger(body.max_versions) && (body.max_versions as number) >= 0)) {
      problems.push('max_versions must be a non-negative integer');
    }
    if (body.cas_required !== undefined && typeof body.cas_required !== 'boolean') problems.push('cas_required must be a boolean');
    if (body.custom_metadata !== undefined) {
      const custom = body.custom_metadata;
      if (!isObject(custom)) problems.push('custom_metadata must be a map of strings');
      else {
        const entries = Object.entries(custom);
        if (entries.length > 64) problems.push('custom_metadata may have at most 64 keys');
        for (const [k, v] of entries) {
          if (typeof v !== 'string') problems.push(`custom_metadata value for key "${k}" is not a string`);
          else if (k.length > 128 || v.length > 512) problems.push(`custom_metadata key "${k}" or its value is too long`);
        }
      }
    }
    if (problems.length) return errors(400, problems);
    const key = this.kv.get(id) ?? this.newKey();
    this.kv.set(id, key);
    if (body.max_versions !== undefined) key.maxVersions = body.max_versions as number;
    if (body.cas_required !== undefined) key.casRequired = body.cas_required as boolean;
    if (body.custom_metadata !== undefined) key.customMetadata = { ...(body.custom_metadata as Record<string, string>) };
    key.updatedTime = new Date(this.now()).toISOString();
    return { status: 204 };
  }

  private list(namespace: string, mount: string, path: string): DoubleResponse {
    const prefix = `${namespace}|${mount}|${path ? `${path.replace(/\/+$/, '')}/` : ''}`;
    const keys = new Set<string>();
    for (const id of this.kv.keys()) {
      if (!id.startsWith(prefix)) continue;
      const rest = id.slice(prefix.length);
      const slash = rest.indexOf('/');
      keys.add(slash === -1 ? rest : rest.slice(0, slash + 1));
    }
    if (keys.size === 0) return errors(404, []);
    return ok({ keys: [...keys].sort() });
  }

  private newKey(): KvKey {
    const now = new Date(this.now()).toISOString();
    return {
      createdTime: now,
      updatedTime: now,
      currentVersion: 0,
      oldestVersion: 0,
      maxVersions: 0,
      casRequired: false,
      customMetadata: null,
      deleteVersionAfter: '0s',
      versions: new Map(),
    };
  }

  private addToken(id: string, spec: TokenSpec, path: string): TokenInfo {
    const now = this.now();
    const ttl = spec.ttl ?? 3600;
    const info: TokenInfo = {
      id,
      accessor: randomUUID(),
      policies: spec.policies ?? ['default'],
      creationTtl: ttl,
      issuedAt: now,
      expiresAt: ttl > 0 ? now + ttl * 1000 : null,
      maxExpiresAt: spec.maxTtl ? now + spec.maxTtl * 1000 : null,
      renewable: spec.renewable ?? ttl > 0,
      allow: spec.allow,
      path,
      meta: null,
    };
    this.tokens.set(id, info);
    return info;
  }

  private liveToken(token: string): TokenInfo | null {
    const info = this.tokens.get(token);
    if (!info) return null;
    if (info.expiresAt !== null && info.expiresAt <= this.now()) {
      this.tokens.delete(token);
      return null;
    }
    return info;
  }
}

function ok(data: unknown, extra: Record<string, unknown> = {}): DoubleResponse {
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: {
      request_id: randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data,
      wrap_info: null,
      warnings: null,
      auth: null,
      mount_type: 'kv',
      ...extra,
    },
  };
}

function errors(status: number, messages: string[]): DoubleResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: { errors: messages } };
}

function unsupported(): DoubleResponse {
  return errors(405, ['1 error occurred:\n\t* unsupported operation\n\n']);
}

function tokenOf(req: IncomingMessage): string | undefined {
  const header = req.headers['x-vault-token'];
  if (typeof header === 'string' && header) return header;
  const auth = req.headers.authorization;
  return typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
}

function normalizeMethod(method: string | undefined): string {
  const m = (method ?? 'GET').toUpperCase();
  return m === 'PUT' ? 'POST' : m;
}

function parseDuration(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const match = /^(\d+)(s|m|h)?$/.exec(value);
  if (!match) return null;
  return Number(match[1]) * (match[2] === 'h' ? 3600 : match[2] === 'm' ? 60 : 1);
}

function isTrue(value: string | null): boolean {
  return value === 'true' || value === '1';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
