import { useState } from 'preact/hooks';

import { all, api, get, post } from '../api';
import type { Agent, Campaign, CampaignProgress, Credential, Delivery, Gateway, PendingChange, Rotation, Session, Token } from '../types';
import { ActionButton, Async, DangerAction, ErrorNote, Link, SecretOnce, short, Status, useAsync, when } from '../ui';

/**
 * Admin: what waits for approval, one row per credential: a new credential
 * (status pending_approval) or a change of an active one that adds a
 * delete/admin scope (its pendingChange; the current scopes stay in force
 * until it is approved). An admin never approves its own request (the API
 * refuses it too).
 */
export function Approvals(props: { session: Session }) {
  const state = useAsync(async () => {
    const [pending, agents] = await Promise.all([all<Credential>('/v1/credentials?pendingApproval=true'), all<Agent>('/v1/agents')]);
    return { pending, agentName: new Map(agents.map((a) => [a.id, a.name])) };
  }, []);
  return (
    <main>
      <h1>Approvals</h1>
      <Async state={state} what="approvals">
        {({ pending, agentName }) =>
          pending.length === 0 ? (
            <p>Nothing waits for approval.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Agent</th>
                  <th scope="col">Client id</th>
                  <th scope="col">Env</th>
                  <th scope="col">Request</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Requested</th>
                  <th scope="col">Decision</th>
                </tr>
              </thead>
              <tbody>
                {pending.map((c) => (
                  <ApprovalRow
                    key={c.id}
                    credential={c}
                    agent={agentName.get(c.agentId) ?? c.agentId}
                    session={props.session}
                    reload={state.reload}
                  />
                ))}
              </tbody>
            </table>
          )
        }
      </Async>
    </main>
  );
}

function ApprovalRow(props: { credential: Credential; agent: string; session: Session; reload: () => void }) {
  const c = props.credential;
  const change = c.pendingChange ?? null;
  const requestedBy = change ? change.requestedBy : c.requestedBy;
  const requestedAt = change ? change.requestedAt : c.createdAt;
  const what = change ? `scope change of ${c.clientId}` : c.clientId;
  const decide = async (decision: 'approve' | 'reject') => (await post(`/v1/credentials/${c.id}/${decision}`), props.reload());
  return (
    <tr data-testid={change ? 'pending-change' : 'pending-credential'}>
      <td>{props.agent}</td>
      <td class="mono">{c.clientId}</td>
      <td>{c.environment}</td>
      <td>{change ? <ChangeSummary current={c} change={change} /> : 'New credential'}</td>
      <td class="mono small">
        {change?.scopes ? (
          <>
            <div>now: {c.scopes.join(' ')}</div>
            <div>requested: {change.scopes.join(' ')}</div>
          </>
        ) : (
          c.scopes.join(' ')
        )}
      </td>
      <td>
        {when(requestedAt)} by <span class="mono">{short(requestedBy)}</span>
      </td>
      <td class="row">
        {requestedBy === props.session.tokenId ? (
          <span class="muted">Your own request: another admin approves it.</span>
        ) : (
          <ActionButton label={`Approve ${what}`} run={() => decide('approve')} />
        )}
        <DangerAction
          label={`Reject ${what}`}
          confirmLabel={change ? 'Reject change' : 'Reject request'}
          needsReason={false}
          explain={
            change
              ? 'Rejects the change: the credential stays active with its current scopes and policy.'
              : 'Rejects the request: no secret is ever issued for it, and the requester must ask again.'
          }
          onConfirm={() => decide('reject')}
        />
      </td>
    </tr>
  );
}

/** "Scope change: adds X", and whatever else the held change would alter. */
function ChangeSummary(props: { current: Credential; change: PendingChange }) {
  const { current, change } = props;
  const added = (change.scopes ?? []).filter((s) => !current.scopes.includes(s));
  const removed = change.scopes ? current.scopes.filter((s) => !change.scopes!.includes(s)) : [];
  const also: string[] = [];
  if (change.rateLimit) also.push(`rate limit ${change.rateLimit.requests}/${change.rateLimit.perSeconds}s`);
  if (change.ipAllowlist) also.push(`IP allowlist ${change.ipAllowlist.join(' ') || '(any)'}`);
  if (change.rotationIntervalDays !== undefined) also.push(`rotation every ${change.rotationIntervalDays} d`);
  if (change.gracePeriodHours !== undefined) also.push(`grace ${change.gracePeriodHours} h`);
  return (
    <>
      <strong>Scope change: adds {added.join(' ') || 'nothing'}</strong>
      {removed.length > 0 && <div class="small">removes {removed.join(' ')}</div>}
      {also.length > 0 && <div class="small">also sets {also.join(', ')}</div>}
    </>
  );
}

/** Admin (and auditor, read-only): campaigns, and opening one. */
export function Campaigns(props: { session: Session }) {
  const state = useAsync(() => all<Campaign>('/v1/campaigns'), []);
  const [name, setName] = useState('');
  const [environment, setEnvironment] = useState('');
  const [dueInDays, setDueInDays] = useState('14');
  const [onExpiry, setOnExpiry] = useState('keep');
  const [error, setError] = useState<unknown>();
  const admin = props.session.role === 'admin';
  const open = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      await post('/v1/campaigns', { name, dueInDays: Number(dueInDays), onExpiry, ...(environment ? { environment } : {}) });
      setName('');
      state.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <main>
      <h1>{admin ? 'Campaigns' : 'Campaign reports'}</h1>
      <Async state={state} what="campaigns">
        {(list) => (
          <table>
            <thead>
              <tr>
                <th scope="col">Campaign</th>
                <th scope="col">Status</th>
                <th scope="col">Items</th>
                <th scope="col">Opened</th>
                <th scope="col">Due</th>
                <th scope="col">Report</th>
              </tr>
            </thead>
            <tbody>
              {list.map((c) => (
                <tr key={c.id}>
                  <td>
                    <Link href={`/console/campaigns/${c.id}`}>{c.name}</Link>
                  </td>
                  <td>
                    <Status value={c.status} />
                  </td>
                  <td>{c.itemCount}</td>
                  <td>{when(c.openedAt)}</td>
                  <td>{when(c.dueAt)}</td>
                  <td class="row">
                    <a href={`/v1/campaigns/${c.id}/report?format=csv`} download={`campaign-${c.id}.csv`}>
                      CSV<span class="sr"> report of {c.name}</span>
                    </a>
                    <a href={`/v1/campaigns/${c.id}/report?format=json`} download={`campaign-${c.id}.json`}>
                      JSON<span class="sr"> report of {c.name}</span>
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Async>
      {admin && (
        <section aria-labelledby="open-title">
          <h2 id="open-title">Open a campaign</h2>
          <form class="grid" onSubmit={open}>
            <label for="cp-name">Name</label>
            <input id="cp-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
            <label for="cp-env">Environment</label>
            <select id="cp-env" value={environment} onChange={(e) => setEnvironment(e.currentTarget.value)}>
              <option value="">all</option>
              <option value="sandbox">sandbox</option>
              <option value="production">production</option>
            </select>
            <label for="cp-due">Due in days</label>
            <input id="cp-due" type="number" min={1} max={90} value={dueInDays} onInput={(e) => setDueInDays(e.currentTarget.value)} />
            <label for="cp-exp">Undecided at the deadline</label>
            <select id="cp-exp" value={onExpiry} onChange={(e) => setOnExpiry(e.currentTarget.value)}>
              <option value="keep">keep</option>
              <option value="revoke">revoke</option>
            </select>
            <span />
            <button type="submit">Open campaign</button>
          </form>
          {error !== undefined && <ErrorNote error={error} />}
        </section>
      )}
    </main>
  );
}

/** A campaign's progress per owner; admins close it. */
export function CampaignPage(props: { id: string; session: Session }) {
  const state = useAsync(() => get<CampaignProgress>(`/v1/campaigns/${props.id}`), [props.id]);
  return (
    <main>
      <Async state={state} what="campaign">
        {(c) => (
          <div>
            <h1>
              {c.name} <Status value={c.status} />
            </h1>
            <p class="muted">
              {c.decidedCount} of {c.itemCount} decided · due {when(c.dueAt)} · undecided items are set to <strong>{c.onExpiry}</strong>
            </p>
            <table data-testid="owner-progress">
              <thead>
                <tr>
                  <th scope="col">Owner</th>
                  <th scope="col">Decided</th>
                  <th scope="col">Pending</th>
                  <th scope="col">Expired</th>
                  <th scope="col">Signed off</th>
                  <th scope="col">Decisions SHA-256</th>
                </tr>
              </thead>
              <tbody>
                {c.owners.map((o) => (
                  <tr key={o.ownerId}>
                    <td class="mono">
                      <Link href={`/console/campaigns/${c.id}/owners/${o.ownerId}`}>{short(o.ownerId)}</Link>
                    </td>
                    <td>
                      {o.decided} / {o.total}
                    </td>
                    <td>{o.pending}</td>
                    <td>{o.expired}</td>
                    <td>{when(o.signedOffAt)}</td>
                    <td class="mono small">{o.decisionsSha256 ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {props.session.role === 'admin' && c.status === 'open' && (
              <DangerAction
                label="Close campaign"
                confirmLabel="Close now"
                needsReason={false}
                explain={`Closes the campaign now: its ${c.pendingCount} undecided item(s) expire and are set to ${c.onExpiry}${c.onExpiry === 'revoke' ? ', which revokes those credentials' : ''}.`}
                onConfirm={async () => (await post(`/v1/campaigns/${c.id}/close`), state.reload())}
              />
            )}
          </div>
        )}
      </Async>
    </main>
  );
}

/** Admin: failed rotations and failed deliveries, each with retry. */
export function Failures() {
  const rotations = useAsync(() => all<Rotation>('/v1/rotations?status=failed'), []);
  const deliveries = useAsync(() => all<Delivery>('/v1/deliveries?status=failed'), []);
  return (
    <main>
      <h1>Failures</h1>
      <h2>Failed rotations</h2>
      <Async state={rotations} what="rotations">
        {(list) =>
          list.length === 0 ? (
            <p>No failed rotation.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Credential</th>
                  <th scope="col">Versions</th>
                  <th scope="col">Step</th>
                  <th scope="col">Started</th>
                  <th scope="col">Error</th>
                  <th scope="col">Action</th>
                </tr>
              </thead>
              <tbody>
                {list.map((r) => (
                  <tr key={r.id}>
                    <td class="mono">
                      {r.credentialId ? <Link href={`/console/credentials/${r.credentialId}`}>{short(r.credentialId)}</Link> : '—'}
                    </td>
                    <td>
                      {r.fromVersion} → {r.toVersion}
                    </td>
                    <td>{r.step}</td>
                    <td>{when(r.startedAt)}</td>
                    <td>{r.error}</td>
                    <td>
                      <ActionButton
                        label="Retry rotation"
                        run={async () => (await post(`/v1/rotations/${r.id}/retry`), rotations.reload())}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Async>
      <h2>Failed deliveries</h2>
      <Async state={deliveries} what="deliveries">
        {(list) =>
          list.length === 0 ? (
            <p>No failed delivery.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Gateway</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last answer</th>
                  <th scope="col">Last attempt</th>
                  <th scope="col">Action</th>
                </tr>
              </thead>
              <tbody>
                {list.map((d) => (
                  <tr key={d.id}>
                    <td>{d.eventType}</td>
                    <td class="mono">{d.gatewayId ? short(d.gatewayId) : '—'}</td>
                    <td>{d.attempts}</td>
                    <td>{d.lastStatusCode ?? d.lastError ?? '—'}</td>
                    <td>{when(d.lastAttemptAt)}</td>
                    <td>
                      <ActionButton
                        label="Retry delivery"
                        run={async () => (await post(`/v1/deliveries/${d.id}/retry`), deliveries.reload())}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Async>
    </main>
  );
}

/** Admin: gateways, their last delivery, and signing-secret rotation (the new secret shown once). */
export function Gateways() {
  const state = useAsync(async () => {
    const gateways = await all<Gateway>('/v1/gateways');
    const last = await Promise.all(
      gateways.map((g) => get<{ items: Delivery[] }>(`/v1/gateways/${g.id}/deliveries?limit=1`).then((p) => p.items[0] ?? null)),
    );
    return gateways.map((g, i) => ({ gateway: g, last: last[i] }));
  }, []);
  const [secret, setSecret] = useState<{ name: string; value: string } | null>(null);
  return (
    <main>
      <h1>Gateways</h1>
      {secret && <SecretOnce label={`New signing secret of ${secret.name}`} secret={secret.value} onDone={() => setSecret(null)} />}
      <Async state={state} what="gateways">
        {(rows) => (
          <table>
            <thead>
              <tr>
                <th scope="col">Gateway</th>
                <th scope="col">Environments</th>
                <th scope="col">Status</th>
                <th scope="col">Last delivery</th>
                <th scope="col">Signing secret</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(({ gateway: g, last }) => (
                <tr key={g.id}>
                  <td>
                    {g.name}
                    <div class="mono small muted">{g.url}</div>
                  </td>
                  <td>{g.environments.join(', ')}</td>
                  <td>
                    <Status value={g.status} />
                  </td>
                  <td>
                    {last
                      ? `${last.eventType}: ${last.status}, ${when(last.deliveredAt ?? last.lastAttemptAt ?? last.createdAt)}`
                      : 'none yet'}
                  </td>
                  <td>
                    v{g.signingSecretVersion}, rotated {when(g.signingSecretRotatedAt)}
                  </td>
                  <td>
                    <DangerAction
                      label={`Rotate signing secret of ${g.name}`}
                      confirmLabel="Rotate signing secret"
                      needsReason={false}
                      explain="Issues a new signing secret, shown once. Events are signed with both the old and the new secret for 24 hours: install the new one on the gateway within that time."
                      onConfirm={async () => {
                        const r = await post<{ signingSecret: string }>(`/v1/gateways/${g.id}/rotate-signing-secret`);
                        setSecret({ name: g.name, value: r.signingSecret });
                        state.reload();
                      }}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Async>
    </main>
  );
}

/** Admin: API tokens: create (shown once) and revoke. */
export function Tokens() {
  const state = useAsync(() => all<Token>('/v1/tokens'), []);
  const [name, setName] = useState('');
  const [role, setRole] = useState('responder');
  const [ownerId, setOwnerId] = useState('');
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [error, setError] = useState<unknown>();
  const create = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      const r = await post<Token & { token: string }>('/v1/tokens', { name, role, ...(role === 'owner' ? { ownerId } : {}) });
      setCreated({ name: r.name, token: r.token });
      setName('');
      state.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <main>
      <h1>API tokens</h1>
      {created && <SecretOnce label={`Token ${created.name}`} secret={created.token} onDone={() => setCreated(null)} />}
      <Async state={state} what="tokens">
        {(tokens) => (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Owner</th>
                <th scope="col">Created</th>
                <th scope="col">Revoked</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td>{t.role}</td>
                  <td class="mono">{t.ownerId ? short(t.ownerId) : '—'}</td>
                  <td>{when(t.createdAt)}</td>
                  <td>{when(t.revokedAt)}</td>
                  <td>
                    {!t.revokedAt && (
                      <DangerAction
                        label={`Revoke token ${t.name}`}
                        confirmLabel="Revoke token"
                        needsReason={false}
                        explain="Revokes the token at once: every client and console session using it is refused from the next request."
                        onConfirm={async () => (await api('DELETE', `/v1/tokens/${t.id}`), state.reload())}
                      />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Async>
      <section aria-labelledby="tk-title">
        <h2 id="tk-title">Create a token</h2>
        <form class="grid" onSubmit={create}>
          <label for="tk-name">Name</label>
          <input id="tk-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          <label for="tk-role">Role</label>
          <select id="tk-role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
            <option value="responder">responder</option>
            <option value="auditor">auditor</option>
            <option value="owner">owner</option>
            <option value="admin">admin</option>
          </select>
          {role === 'owner' && (
            <>
              <label for="tk-owner">Owner id</label>
              <input id="tk-owner" class="mono" required value={ownerId} onInput={(e) => setOwnerId(e.currentTarget.value)} />
            </>
          )}
          <span />
          <button type="submit">Create token</button>
        </form>
        {error !== undefined && <ErrorNote error={error} />}
      </section>
    </main>
  );
}
