import { useState } from 'preact/hooks';

import { get, post } from '../api';
import { navigate } from '../router';
import type { Agent, Credential, Revocation, Rotation, Session } from '../types';
import { ActionButton, Async, DangerAction, SecretOnce, Status, useAsync, when } from '../ui';
import { CredentialAlerts } from './alerts';
import { CredentialUsageView } from './usage';

/** One credential: details, usage, rotation history, and what the session's role may do to it. */
export function CredentialPage(props: { id: string; session: Session }) {
  const state = useAsync(async () => {
    const credential = await get<Credential>(`/v1/credentials/${props.id}`);
    const [agent, rotations] = await Promise.all([
      get<Agent>(`/v1/agents/${credential.agentId}`),
      get<{ items: Rotation[] }>(`/v1/credentials/${props.id}/rotations?limit=100`).then((p) => p.items),
    ]);
    return { credential, agent, rotations };
  }, [props.id]);
  const [secret, setSecret] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const role = props.session.role;
  return (
    <main>
      <Async state={state} what="credential">
        {({ credential: c, agent, rotations }) => {
          const mayAct = role !== 'auditor' && c.status === 'active';
          const mayClaim =
            (role === 'owner' || role === 'admin') &&
            c.status === 'active' &&
            c.approvedBy !== null &&
            c.requestedBy === props.session.tokenId;
          return (
            <div>
              <h1>
                Credential <span class="mono">{c.clientId}</span> <Status value={c.status} />
              </h1>
              <dl class="facts">
                <dt>Agent</dt>
                <dd>{agent.name}</dd>
                <dt>Id</dt>
                <dd class="mono">{c.id}</dd>
                <dt>Environment</dt>
                <dd>{c.environment}</dd>
                <dt>Scopes</dt>
                <dd class="mono">{c.scopes.join(' ')}</dd>
                <dt>Rate limit</dt>
                <dd>
                  {c.rateLimit.requests} per {c.rateLimit.perSeconds} s
                </dd>
                <dt>IP allowlist</dt>
                <dd class="mono">{c.ipAllowlist.length ? c.ipAllowlist.join(' ') : 'any address'}</dd>
                <dt>Secret version</dt>
                <dd>{c.secretVersion ?? '—'}</dd>
                <dt>Last used</dt>
                <dd>{when(c.lastUsedAt)}</dd>
                <dt>Next rotation</dt>
                <dd>{when(c.nextRotationAt)}</dd>
                {c.revokedAt && (
                  <>
                    <dt>Revoked</dt>
                    <dd>
                      {when(c.revokedAt)}: {c.revokedReason}
                    </dd>
                  </>
                )}
              </dl>
              {secret && (
                <SecretOnce
                  label="Claimed secret"
                  secret={secret}
                  onDone={() => {
                    setSecret(null);
                  }}
                />
              )}
              {notice && (
                <p class="ok" role="status">
                  {notice}
                </p>
              )}
              {(mayAct || mayClaim) && (
                <div class="actions">
                  {mayClaim && (
                    <ActionButton
                      label="Claim secret"
                      run={async () => setSecret((await post<{ secret: string }>(`/v1/credentials/${c.id}/claim`)).secret)}
                    />
                  )}
                  {mayAct && (
                    <>
                      <DangerAction
                        label="Rotate"
                        confirmLabel="Start rotation"
                        explain={`Issues a new secret version; the current one keeps working for the grace period (${c.gracePeriodHours ?? 24} h).`}
                        onConfirm={async (reason) => {
                          await post(`/v1/credentials/${c.id}/rotate`, { reason });
                          setNotice('Rotation started.');
                          state.reload();
                        }}
                      />
                      <DangerAction
                        label="Emergency rotate"
                        confirmLabel="Rotate now, no grace period"
                        explain="Issues a new secret and retires every other version as soon as it is promoted: callers still using the old secret are refused."
                        onConfirm={async (reason) => {
                          await post(`/v1/credentials/${c.id}/rotate`, { reason, immediate: true });
                          setNotice('Emergency rotation started.');
                          state.reload();
                        }}
                      />
                      <DangerAction
                        label="Revoke"
                        confirmLabel="Revoke credential"
                        explain={`Revokes ${c.clientId} for good: every gateway is told to refuse it, and ${agent.name} loses this access.`}
                        onConfirm={async (reason) => {
                          const r = await post<Revocation & { revocationId: string }>(`/v1/credentials/${c.id}/revoke`, { reason });
                          navigate(`/console/revocations/${r.revocationId}`);
                        }}
                      />
                    </>
                  )}
                </div>
              )}
              <CredentialAlerts credentialId={c.id} mayAct={role === 'responder' || role === 'admin'} />
              <CredentialUsageView credentialId={c.id} />
              <h2>Rotation history</h2>
              {rotations.length === 0 ? (
                <p class="muted">Never rotated.</p>
              ) : (
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Started</th>
                      <th scope="col">Versions</th>
                      <th scope="col">Status</th>
                      <th scope="col">Step</th>
                      <th scope="col">Completed</th>
                      <th scope="col">Grace ends</th>
                      <th scope="col">Retired</th>
                      <th scope="col">Error</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rotations.map((r) => (
                      <tr key={r.id}>
                        <td>{when(r.startedAt)}</td>
                        <td>
                          {r.fromVersion} → {r.toVersion}
                        </td>
                        <td>
                          <Status value={r.status} />
                        </td>
                        <td>{r.step}</td>
                        <td>{when(r.completedAt)}</td>
                        <td>{when(r.graceEndsAt)}</td>
                        <td>{when(r.retiredAt)}</td>
                        <td>{r.error ?? ''}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </div>
          );
        }}
      </Async>
    </main>
  );
}
