import { useState } from 'preact/hooks';

import { all, ApiError, get, post } from '../api';
import { navigate } from '../router';
import type { Agent, Credential, LeakAnswer, Revocation, Session } from '../types';
import { DangerAction, ErrorNote, Link, Loading, Status } from '../ui';
import { CredentialTable } from './agents';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A pasted secret rather than a name or id: this service's key prefixes, or a long opaque string. */
const LOOKS_LIKE_KEY = /^(agk_|whsec_|agt_)|^[A-Za-z0-9_\-+/=]{40,}$/;

/** Secrets of this service that are not credential keys, and where they are dealt with instead. */
const NOT_CREDENTIAL_KEYS: Array<[prefix: string, notice: string]> = [
  ['agt_', 'That is an API token, not a credential key; it was not sent anywhere. An admin revokes it under API tokens.'],
  ['whsec_', "That is a gateway's signing secret, not a credential key; it was not sent anywhere. An admin rotates it under Gateways."],
];

interface Found {
  agents: Agent[];
  credentials: Credential[];
  agentNames: Map<string, string>;
}

/**
 * Responder: one search box, then revoke a credential or a whole agent with a
 * reason. A pasted key goes to the leak lookup (POST /v1/leaks, action
 * "none") in a request body only: the field is emptied before the request,
 * the key is never put in a URL, storage or the page, and the confirm step
 * sends the SHA-256 the lookup answered, not the key.
 */
export function Respond(_props: { session: Session }) {
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<Found | null>(null);
  const [leak, setLeak] = useState<LeakMatch | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const search = async (event: Event) => {
    event.preventDefault();
    const q = query.trim();
    setError(undefined);
    setFound(null);
    setLeak(null);
    setNotice(null);
    if (!q) return;
    const pastedKey = LOOKS_LIKE_KEY.test(q) && !UUID.test(q);
    if (pastedKey) setQuery('');
    // Not a credential's key: said so, and sent nowhere (the leak lookup knows credential secrets only).
    const other = NOT_CREDENTIAL_KEYS.find(([prefix]) => q.startsWith(prefix));
    if (other) {
      setNotice(other[1]);
      return;
    }
    setBusy(true);
    try {
      if (pastedKey) setLeak(await lookUpKey(q));
      else setFound(await find(q));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main>
      <h1>Respond</h1>
      <form class="search" role="search" onSubmit={search}>
        <label for="q">Find a credential by agent name, client id or id, or paste a key</label>
        <div class="row">
          <input
            id="q"
            class="wide"
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
            autoComplete="off"
            spellcheck={false}
            aria-describedby="q-help"
          />
          <button type="submit">Search</button>
        </div>
        <span id="q-help" class="small muted">
          A pasted key is looked up by the leak lookup without changing anything; you confirm before it is revoked or rotated. It is not
          kept in this page or its address.
        </span>
      </form>
      {notice && (
        <p class="warning" role="alert">
          {notice}
        </p>
      )}
      {busy && <Loading what="results" />}
      {error !== undefined && <ErrorNote error={error} />}
      {leak && <LeakResult key={leak.answer.secretSha256} leak={leak} />}
      {found && <Results found={found} />}
    </main>
  );
}

interface LeakMatch {
  answer: LeakAnswer;
  credential: Credential | null;
  agent: Agent | null;
}

/** The pasted key, in a POST body, with action "none": only its hash comes back. */
async function lookUpKey(key: string): Promise<LeakMatch> {
  // A pasted SHA-256 (64 hex, what scanners often report) is looked up as the hash it is.
  const body = /^[0-9a-f]{64}$/.test(key) ? { secretSha256: key } : { secret: key };
  const answer = await post<LeakAnswer>('/v1/leaks', { ...body, action: 'none' });
  if (!answer.matched || !answer.credentialId) return { answer, credential: null, agent: null };
  const credential = await get<Credential>(`/v1/credentials/${answer.credentialId}`);
  const agent = await get<Agent>(`/v1/agents/${credential.agentId}`).catch(notFound);
  return { answer, credential, agent };
}

const VERSION_STATE: Record<string, string> = {
  current: 'the current secret: gateways accept it',
  grace: 'the previous secret, still accepted until its grace period ends',
  pending: 'the new secret of an unfinished rotation: gateways accept it',
  retired: 'a retired secret: gateways refuse it already',
  revoked: 'a secret of a revoked credential: gateways refuse it already',
};

function LeakResult(props: { leak: LeakMatch }) {
  const { answer, credential: c, agent } = props.leak;
  const [done, setDone] = useState<LeakAnswer | null>(null);
  if (!answer.matched || !c)
    return (
      <p class="panel" role="status" data-testid="leak-result">
        No credential ever had this key. Nothing was changed.
      </p>
    );
  const live = answer.versionState === 'current' || answer.versionState === 'grace' || answer.versionState === 'pending';
  const report = async (action: 'revoke' | 'rotate', source: string) => {
    const r = await post<LeakAnswer>('/v1/leaks', { secretSha256: answer.secretSha256, action, source });
    if (r.revocationId) navigate(`/console/revocations/${r.revocationId}`);
    else setDone(r);
  };
  const name = `${c.clientId} (${agent?.name ?? 'agent'}, ${c.environment})`;
  return (
    <section class="panel" aria-labelledby="leak-title" data-testid="leak-result">
      <h2 id="leak-title">
        This key is version {answer.version ?? '?'} of <span class="mono">{c.clientId}</span> <Status value={c.status} />
      </h2>
      <p>
        It is {VERSION_STATE[answer.versionState ?? ''] ?? answer.versionState}. Agent {agent?.name ?? c.agentId}, {c.environment}, scopes{' '}
        <span class="mono">{c.scopes.join(' ')}</span>. Nothing has been changed yet.
      </p>
      <p class="small muted">
        Key SHA-256 (what the audit log records): <span class="mono">{answer.secretSha256}</span>
      </p>
      <div class="row">
        <Link href={`/console/credentials/${c.id}`}>Open the credential and its usage</Link>
      </div>
      {done ? (
        <p class="ok" role="status">
          {done.actionTaken === 'rotated'
            ? `Emergency rotation started: the leaked secret stops working as soon as the new one is promoted.`
            : 'Nothing was changed.'}
        </p>
      ) : live ? (
        <div class="actions">
          <DangerAction
            label="Revoke this credential"
            confirmLabel="Revoke credential"
            explain={`Revokes ${name} for good as a leaked key: every gateway is told to refuse it, and the agent loses this access.`}
            reasonLabel="Where was it found? (recorded as the reason)"
            onConfirm={(reason) => report('revoke', reason)}
          />
          <DangerAction
            label="Emergency rotate"
            confirmLabel="Rotate now, no grace period"
            explain={`Issues a new secret for ${name} and retires every other version as soon as it is promoted: callers still using the leaked key are refused; the agent must fetch the new one.`}
            reasonLabel="Where was it found? (recorded as the reason)"
            onConfirm={(reason) => report('rotate', reason)}
          />
        </div>
      ) : (
        <p>
          Gateways refuse this key already; nothing to revoke.{' '}
          {answer.alertId ? 'A retired-key alert was raised: someone still holds a copy.' : ''}
        </p>
      )}
    </section>
  );
}

async function find(q: string): Promise<Found> {
  const agentNames = new Map<string, string>();
  if (UUID.test(q)) {
    const [credential, agent] = await Promise.all([
      get<Credential>(`/v1/credentials/${q}`).catch(notFound),
      get<Agent>(`/v1/agents/${q}`).catch(notFound),
    ]);
    const credentials = credential ? [credential] : agent ? await all<Credential>(`/v1/credentials?agentId=${agent.id}`) : [];
    const agents = agent ? [agent] : credential ? [await get<Agent>(`/v1/agents/${credential.agentId}`)] : [];
    for (const a of agents) agentNames.set(a.id, a.name);
    return { agents, credentials, agentNames };
  }
  const needle = q.toLowerCase();
  const [agents, credentials] = await Promise.all([all<Agent>('/v1/agents'), all<Credential>('/v1/credentials')]);
  for (const a of agents) agentNames.set(a.id, a.name);
  const matchedAgents = agents.filter((a) => a.name.toLowerCase().includes(needle));
  const agentIds = new Set(matchedAgents.map((a) => a.id));
  const matchedCredentials = credentials.filter((c) => c.clientId.toLowerCase().includes(needle) || agentIds.has(c.agentId));
  for (const c of matchedCredentials) {
    if (!agentIds.has(c.agentId)) {
      const agent = agents.find((a) => a.id === c.agentId);
      if (agent) {
        matchedAgents.push(agent);
        agentIds.add(agent.id);
      }
    }
  }
  return { agents: matchedAgents, credentials: matchedCredentials, agentNames };
}

function notFound(error: unknown): null {
  if (error instanceof ApiError && (error.status === 404 || error.status === 400)) return null;
  throw error;
}

function Results(props: { found: Found }) {
  const { agents, credentials, agentNames } = props.found;
  if (!agents.length && !credentials.length) return <p>Nothing found.</p>;
  return (
    <div>
      <h2>Credentials ({credentials.length})</h2>
      <CredentialTable credentials={credentials} agentName={(id) => agentNames.get(id) ?? id} />
      {credentials
        .filter((c) => c.status === 'active' || c.status === 'pending_approval')
        .map((c) => (
          <div class="row act" key={c.id}>
            <span class="mono">{c.clientId}</span>
            <Link href={`/console/credentials/${c.id}`}>Open</Link>
            <DangerAction
              label={`Revoke ${c.clientId}`}
              confirmLabel="Revoke credential"
              explain={`Revokes ${c.clientId} (${agentNames.get(c.agentId) ?? 'agent'}, ${c.environment}) for good: every gateway is told to refuse it.`}
              onConfirm={async (reason) => {
                const r = await post<{ revocationId: string }>(`/v1/credentials/${c.id}/revoke`, { reason });
                navigate(`/console/revocations/${r.revocationId}`);
              }}
            />
          </div>
        ))}
      <h2>Agents ({agents.length})</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Agent</th>
            <th scope="col">Status</th>
            <th scope="col">Credentials</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {agents.map((a) => {
            const live = credentials.filter((c) => c.agentId === a.id && c.status !== 'revoked' && c.status !== 'rejected').length;
            return (
              <tr key={a.id}>
                <td>{a.name}</td>
                <td>
                  <Status value={a.status} />
                </td>
                <td>{live} live</td>
                <td>
                  {a.status === 'active' ? (
                    <DangerAction
                      label={`Revoke agent ${a.name}`}
                      confirmLabel="Revoke agent and all its credentials"
                      explain={`Revokes every credential of ${a.name} in one revocation and decommissions the agent.`}
                      onConfirm={async (reason) => {
                        const r = await post<Revocation & { revocationId: string }>(`/v1/agents/${a.id}/revoke`, { reason });
                        navigate(`/console/revocations/${r.revocationId}`);
                      }}
                    />
                  ) : (
                    <span class="muted">—</span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
