import { useState } from 'preact/hooks';

import { all, get, type Page, post } from '../api';
import { navigate } from '../router';
import type { Agent, Credential, Owner, Product, RevocationListItem, Session } from '../types';
import { Async, DangerAction, ErrorNote, Link, Status, useAsync, when } from '../ui';

/** Every revocation, newest first (GET /v1/revocations), with its propagation status; admin, responder, auditor. */
export function Revocations(props: { session: Session }) {
  const [status, setStatus] = useState('');
  const [since, setSince] = useState('');
  const [applied, setApplied] = useState({ status: '', since: '' });
  const [more, setMore] = useState<RevocationListItem[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const query = (extra: Record<string, string>) =>
    new URLSearchParams(Object.entries({ ...applied, ...extra, limit: '100' }).filter(([, v]) => v)).toString();
  const first = useAsync(async () => {
    const page = await get<Page<RevocationListItem>>(`/v1/revocations?${query({})}`);
    setMore([]);
    setCursor(page.nextCursor);
    return page.items;
  }, [applied.status, applied.since]);
  const next = async () => {
    if (!cursor) return;
    try {
      const page = await get<Page<RevocationListItem>>(`/v1/revocations?${query({ cursor })}`);
      setMore([...more, ...page.items]);
      setCursor(page.nextCursor);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <main>
      <h1>Revocations</h1>
      {props.session.role !== 'auditor' && (
        <p>
          <Link href="/console/bulk-revoke">Revoke by filter…</Link>
        </p>
      )}
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ status, since: since.trim() });
        }}
      >
        <span>
          <label for="rv-status">Status</label>
          <select id="rv-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">any</option>
            <option value="propagating">propagating</option>
            <option value="complete">complete</option>
            <option value="failed">failed</option>
          </select>
        </span>
        <span>
          <label for="rv-since">Since (ISO time)</label>
          <input id="rv-since" value={since} placeholder="2026-12-01T00:00:00Z" onInput={(e) => setSince(e.currentTarget.value)} />
        </span>
        <button type="submit">Filter</button>
      </form>
      <Async state={first} what="revocations">
        {(items) => {
          const list = [...items, ...more];
          if (!list.length) return <p>No revocation matches.</p>;
          return (
            <div>
              <table data-testid="revocations">
                <thead>
                  <tr>
                    <th scope="col">Revoked at</th>
                    <th scope="col">Status</th>
                    <th scope="col">Credentials</th>
                    <th scope="col">Reason</th>
                    <th scope="col">Scope of it</th>
                    <th scope="col">By</th>
                    <th scope="col">Propagation</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((r) => (
                    <tr key={r.id}>
                      <td>{when(r.revokedAt)}</td>
                      <td>
                        <Status value={r.status} />
                      </td>
                      <td>{r.credentialCount}</td>
                      <td class="data">{r.reason}</td>
                      <td class="small">{r.agentId ? 'whole agent' : r.credentialCount > 1 ? 'by filter' : 'one credential'}</td>
                      <td class="small">{r.actor.role}</td>
                      <td>
                        <Link href={`/console/revocations/${r.id}`}>View propagation</Link>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {cursor && (
                <button type="button" onClick={next}>
                  Show 100 more
                </button>
              )}
            </div>
          );
        }}
      </Async>
      {error !== undefined && <ErrorNote error={error} />}
    </main>
  );
}

interface Filter {
  ownerId: string;
  environment: string;
  products: string[];
  scopes: string;
  agentIds: string;
  credentialIds: string;
  createdBefore: string;
  secretStore: string;
}

const EMPTY: Filter = {
  ownerId: '',
  environment: '',
  products: [],
  scopes: '',
  agentIds: '',
  credentialIds: '',
  createdBefore: '',
  secretStore: '',
};

const words = (s: string) => s.split(/[\s,]+/).filter(Boolean);

/** The filter as POST /v1/revocations takes it: only the fields given. */
function toBody(f: Filter): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (f.ownerId) body.ownerId = f.ownerId;
  if (f.environment) body.environment = f.environment;
  if (f.products.length) body.products = f.products;
  if (words(f.scopes).length) body.scopes = words(f.scopes);
  if (words(f.agentIds).length) body.agentIds = words(f.agentIds);
  if (words(f.credentialIds).length) body.credentialIds = words(f.credentialIds);
  if (f.createdBefore.trim()) body.createdBefore = f.createdBefore.trim();
  if (f.secretStore) body.secretStore = f.secretStore;
  return body;
}

interface Preview {
  filter: Record<string, unknown>;
  count: number;
  sample: Array<{ id: string; credential: Credential | null; agent: string }>;
}

/**
 * Responder/admin: revoke every credential a filter matches. Counting first
 * (dryRun: nothing changes), then the count and the first 20 matches, then a
 * confirm step with the reason, then the propagation view.
 */
export function BulkRevoke() {
  const refs = useAsync(async () => {
    const [owners, products] = await Promise.all([all<Owner>('/v1/owners'), all<Product>('/v1/products')]);
    return { owners, products };
  }, []);
  const [filter, setFilterState] = useState<Filter>(EMPTY);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  // Any change to the filter voids the count: the confirm step only ever revokes what was counted with it.
  const setFilter = (patch: Partial<Filter>) => {
    setFilterState({ ...filter, ...patch });
    setPreview(null);
  };
  const body = toBody(filter);
  const count = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setPreview(null);
    setBusy(true);
    try {
      // The API asks every bulk request for a reason; a dry run stores nothing, so this one is never recorded.
      const r = await post<{ count: number; sample: string[] }>('/v1/revocations', { reason: 'dry run', filter: body, dryRun: true });
      const sample = await Promise.all(
        r.sample.map(async (id) => {
          const credential = await get<Credential>(`/v1/credentials/${id}`).catch(() => null);
          const agent = credential ? await get<Agent>(`/v1/agents/${credential.agentId}`).catch(() => null) : null;
          return { id, credential, agent: agent?.name ?? '' };
        }),
      );
      setPreview({ filter: body, count: r.count, sample });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main>
      <h1>Revoke by filter</h1>
      <p class="muted">
        Every field given must hold; products and scopes match when a credential has any of them. Count the matches first: nothing changes
        until you confirm with a reason.
      </p>
      <Async state={refs} what="owners and products">
        {({ owners, products }) => (
          <form class="grid" onSubmit={count} data-testid="bulk-filter">
            <label for="bf-owner">Owner</label>
            <select id="bf-owner" value={filter.ownerId} onChange={(e) => setFilter({ ownerId: e.currentTarget.value })}>
              <option value="">any owner</option>
              {owners.map((o) => (
                <option key={o.id} value={o.id}>
                  {o.name}
                </option>
              ))}
            </select>
            <label for="bf-env">Environment</label>
            <select id="bf-env" value={filter.environment} onChange={(e) => setFilter({ environment: e.currentTarget.value })}>
              <option value="">any environment</option>
              <option value="production">production</option>
              <option value="sandbox">sandbox</option>
            </select>
            <span id="bf-products">Products (any of)</span>
            <div role="group" aria-labelledby="bf-products" class="scopes">
              {products.map((p) => (
                <label key={p.id} class="check">
                  <input
                    type="checkbox"
                    checked={filter.products.includes(p.name)}
                    onChange={(e) =>
                      setFilter({
                        products: e.currentTarget.checked ? [...filter.products, p.name] : filter.products.filter((n) => n !== p.name),
                      })
                    }
                  />{' '}
                  <span class="mono">{p.name}</span>
                </label>
              ))}
            </div>
            <label for="bf-scopes">Scopes (any of, space separated)</label>
            <input
              id="bf-scopes"
              class="mono"
              value={filter.scopes}
              placeholder="billing:write billing:admin"
              onInput={(e) => setFilter({ scopes: e.currentTarget.value })}
            />
            <label for="bf-agents">Agent ids</label>
            <textarea
              id="bf-agents"
              rows={2}
              class="mono small"
              value={filter.agentIds}
              onInput={(e) => setFilter({ agentIds: e.currentTarget.value })}
            />
            <label for="bf-creds">Credential ids</label>
            <textarea
              id="bf-creds"
              rows={2}
              class="mono small"
              value={filter.credentialIds}
              onInput={(e) => setFilter({ credentialIds: e.currentTarget.value })}
            />
            <label for="bf-before">Created before (ISO time)</label>
            <input
              id="bf-before"
              value={filter.createdBefore}
              placeholder="2026-12-01T00:00:00Z"
              onInput={(e) => setFilter({ createdBefore: e.currentTarget.value })}
            />
            <label for="bf-store">Secret store</label>
            <select id="bf-store" value={filter.secretStore} onChange={(e) => setFilter({ secretStore: e.currentTarget.value })}>
              <option value="">any store</option>
              <option value="local">local</option>
              <option value="vault">vault</option>
              <option value="aws">aws</option>
            </select>
            <span />
            <button type="submit" disabled={busy || Object.keys(body).length === 0}>
              Count matches
            </button>
          </form>
        )}
      </Async>
      {error !== undefined && <ErrorNote error={error} />}
      {preview && <BulkPreview preview={preview} />}
    </main>
  );
}

function BulkPreview(props: { preview: Preview }) {
  const { count, sample, filter } = props.preview;
  if (count === 0)
    return (
      <p class="panel" role="status" data-testid="bulk-preview">
        No active or pending credential matches. Nothing to revoke.
      </p>
    );
  return (
    <section class="panel" aria-labelledby="bp-title" data-testid="bulk-preview">
      <h2 id="bp-title">
        {count} credential{count === 1 ? '' : 's'} match{count === 1 ? 'es' : ''}
      </h2>
      <p class="muted">{count > sample.length ? `The first ${sample.length} by id:` : 'All of them:'}</p>
      <table>
        <thead>
          <tr>
            <th scope="col">Client id</th>
            <th scope="col">Agent</th>
            <th scope="col">Env</th>
            <th scope="col">Status</th>
            <th scope="col">Scopes</th>
          </tr>
        </thead>
        <tbody>
          {sample.map(({ id, credential: c, agent }) => (
            <tr key={id}>
              <td class="mono">{c ? <Link href={`/console/credentials/${id}`}>{c.clientId}</Link> : id}</td>
              <td>{agent}</td>
              <td>{c?.environment ?? ''}</td>
              <td>{c && <Status value={c.status} />}</td>
              <td class="mono small">{c?.scopes.join(' ') ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <DangerAction
        label={`Revoke all ${count}`}
        confirmLabel={`Revoke ${count} credential${count === 1 ? '' : 's'}`}
        explain={`Revokes every credential this filter matches now (${count} when counted) in one revocation, for good: every gateway is told to refuse them and their agents lose this access. This cannot be undone.`}
        onConfirm={async (reason) => {
          const r = await post<{ revocationId: string }>('/v1/revocations', { reason, filter });
          navigate(`/console/revocations/${r.revocationId}`);
        }}
      />
    </section>
  );
}
