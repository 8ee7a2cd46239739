import { useState } from 'preact/hooks';

import { all, post } from '../api';
import type { Agent, Credential, Product, Session } from '../types';
import { Async, ErrorNote, Link, SecretOnce, Status, useAsync, when } from '../ui';

/** Owner: "My agents": agents and their credentials, and a form to request a credential. */
export function MyAgents(props: { session: Session }) {
  const state = useAsync(async () => {
    const [agents, credentials, products] = await Promise.all([
      all<Agent>('/v1/agents'),
      all<Credential>('/v1/credentials'),
      all<Product>('/v1/products'),
    ]);
    return { agents, credentials, products };
  }, []);
  return (
    <main>
      <h1>My agents</h1>
      <Async state={state} what="agents">
        {({ agents, credentials, products }) => (
          <div>
            {agents.length === 0 && <p>No agents yet.</p>}
            {agents.map((agent) => (
              <section key={agent.id} aria-labelledby={`a-${agent.id}`}>
                <h2 id={`a-${agent.id}`}>
                  {agent.name} <Status value={agent.status} />
                </h2>
                <CredentialTable credentials={credentials.filter((c) => c.agentId === agent.id)} />
              </section>
            ))}
            {agents.some((a) => a.status === 'active') && (
              <RequestCredential
                session={props.session}
                agents={agents.filter((a) => a.status === 'active')}
                products={products}
                onDone={state.reload}
              />
            )}
          </div>
        )}
      </Async>
    </main>
  );
}

export function CredentialTable(props: { credentials: Credential[]; agentName?: (id: string) => string }) {
  if (!props.credentials.length) return <p class="muted">No credentials.</p>;
  return (
    <table>
      <thead>
        <tr>
          {props.agentName && <th scope="col">Agent</th>}
          <th scope="col">Client id</th>
          <th scope="col">Env</th>
          <th scope="col">Status</th>
          <th scope="col">Scopes</th>
          <th scope="col">Version</th>
          <th scope="col">Last rotated</th>
          <th scope="col">Next rotation</th>
          <th scope="col">Last used</th>
        </tr>
      </thead>
      <tbody>
        {props.credentials.map((c) => (
          <tr key={c.id}>
            {props.agentName && <td>{props.agentName(c.agentId)}</td>}
            <td class="mono">
              <Link href={`/console/credentials/${c.id}`}>{c.clientId}</Link>
            </td>
            <td>{c.environment}</td>
            <td>
              <Status value={c.status} />
            </td>
            <td class="mono small">{c.scopes.join(' ')}</td>
            <td>{c.secretVersion ?? '—'}</td>
            <td>{when(c.lastRotatedAt)}</td>
            <td>{when(c.nextRotationAt)}</td>
            <td>{when(c.lastUsedAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function RequestCredential(props: { session: Session; agents: Agent[]; products: Product[]; onDone: () => void }) {
  const [agentId, setAgentId] = useState(props.agents[0]?.id ?? '');
  const [environment, setEnvironment] = useState('sandbox');
  const [scopes, setScopes] = useState<string[]>([]);
  const [requests, setRequests] = useState('100');
  const [perSeconds, setPerSeconds] = useState('60');
  const [secret, setSecret] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const allScopes = props.products.flatMap((p) => p.operations.map((op) => `${p.name}:${op}`));
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setNotice(null);
    try {
      const result = await post<{ credential: Credential; secret?: string }>('/v1/credentials', {
        agentId,
        type: 'api_key',
        environment,
        scopes,
        rateLimit: { requests: Number(requests), perSeconds: Number(perSeconds) },
      });
      if (result.secret) setSecret(result.secret);
      else
        setNotice(
          `Requested ${result.credential.clientId}: delete and admin scopes wait for an admin's approval. Claim its secret on the credential's page once approved.`,
        );
      setScopes([]);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section aria-labelledby="request-title">
      <h2 id="request-title">Request a credential</h2>
      {secret ? (
        <SecretOnce
          label="New credential's secret"
          secret={secret}
          onDone={() => {
            setSecret(null);
            props.onDone();
          }}
        />
      ) : (
        <form class="grid" onSubmit={submit}>
          <label for="rq-agent">Agent</label>
          <select id="rq-agent" value={agentId} onChange={(e) => setAgentId(e.currentTarget.value)}>
            {props.agents.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
          <label for="rq-env">Environment</label>
          <select id="rq-env" value={environment} onChange={(e) => setEnvironment(e.currentTarget.value)}>
            <option value="sandbox">sandbox</option>
            <option value="production">production</option>
          </select>
          <span id="rq-scopes">Scopes</span>
          <div role="group" aria-labelledby="rq-scopes" class="scopes">
            {allScopes.map((scope) => (
              <label key={scope} class="check">
                <input
                  type="checkbox"
                  checked={scopes.includes(scope)}
                  onChange={(e) => setScopes(e.currentTarget.checked ? [...scopes, scope] : scopes.filter((s) => s !== scope))}
                />{' '}
                <span class="mono">{scope}</span>
              </label>
            ))}
          </div>
          <label for="rq-req">Requests</label>
          <input id="rq-req" type="number" min={1} max={100000} value={requests} onInput={(e) => setRequests(e.currentTarget.value)} />
          <label for="rq-per">Per seconds</label>
          <input id="rq-per" type="number" min={1} max={86400} value={perSeconds} onInput={(e) => setPerSeconds(e.currentTarget.value)} />
          <span />
          <button type="submit" disabled={!scopes.length}>
            Request credential
          </button>
        </form>
      )}
      {notice && (
        <p class="ok" role="status">
          {notice}
        </p>
      )}
      {error !== undefined && <ErrorNote error={error} />}
    </section>
  );
}
