import { useState } from 'preact/hooks';

import { all, get, type Page, post } from '../api';
import type { Agent, Alert, Credential, Session } from '../types';
import { ActionButton, Async, DangerAction, Link, Status, useAsync, when } from '../ui';

/** Each alert type in words, with what a responder should look at. */
export const ALERT_TYPES: Record<string, string> = {
  ip_not_allowed: 'Call from outside the IP allowlist',
  auth_failures: 'Burst of refused calls',
  retired_key_used: 'Retired or revoked key presented',
  volume_spike: 'Volume spike',
  dormant_reactivated: 'Dormant credential used again',
  new_network: 'Call from a new network',
};

const SEVERITY_ORDER = { high: 0, medium: 1, low: 2 } as const;

type View = 'unresolved' | 'open' | 'acknowledged' | 'resolved';
const VIEWS: Array<[View, string]> = [
  ['unresolved', 'Open and acknowledged'],
  ['open', 'Open only'],
  ['acknowledged', 'Acknowledged only'],
  ['resolved', 'Resolved'],
];

interface Loaded {
  alerts: Alert[];
  credentials: Map<string, Credential>;
  agents: Map<string, string>;
}

/**
 * Responder (and admin; auditors read): anomaly alerts, unresolved first by
 * severity, each with its evidence and what its policy did; acknowledge (someone
 * is on it) and resolve with a note. The credential's page (usage, revoke,
 * emergency rotate) is one link away.
 */
export function Alerts(props: { session: Session }) {
  const [view, setView] = useState<View>('unresolved');
  const [type, setType] = useState('');
  const mayAct = props.session.role === 'responder' || props.session.role === 'admin';
  const state = useAsync(async (): Promise<Loaded> => {
    const typeQuery = type ? `&type=${type}` : '';
    const statuses = view === 'unresolved' ? ['open', 'acknowledged'] : [view];
    const lists = await Promise.all(statuses.map((s) => all<Alert>(`/v1/alerts?status=${s}${typeQuery}`, 2000)));
    const alerts = lists
      .flat()
      .sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || b.lastSeenAt.localeCompare(a.lastSeenAt));
    // Names for the shown credentials and agents (one read each; the list is capped above).
    const credentials = new Map<string, Credential>();
    const agents = new Map<string, string>();
    await Promise.all(
      [...new Set(alerts.map((a) => a.credentialId))].map(async (id) => {
        const c = await get<Credential>(`/v1/credentials/${id}`).catch(() => null);
        if (c) credentials.set(id, c);
      }),
    );
    await Promise.all(
      [...new Set(alerts.map((a) => a.agentId))].map(async (id) => {
        const agent = await get<Agent>(`/v1/agents/${id}`).catch(() => null);
        if (agent) agents.set(id, agent.name);
      }),
    );
    return { alerts, credentials, agents };
  }, [view, type]);
  const [changed, setChanged] = useState<Record<string, Alert>>({});
  const update = (alert: Alert) => setChanged((c) => ({ ...c, [alert.id]: alert }));

  return (
    <main>
      <h1>Alerts</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <span>
          <label for="al-view">Show</label>
          <select
            id="al-view"
            value={view}
            onChange={(e) => {
              setChanged({});
              setView(e.currentTarget.value as View);
            }}
          >
            {VIEWS.map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </span>
        <span>
          <label for="al-type">Type</label>
          <select
            id="al-type"
            value={type}
            onChange={(e) => {
              setChanged({});
              setType(e.currentTarget.value);
            }}
          >
            <option value="">any type</option>
            {Object.entries(ALERT_TYPES).map(([t, label]) => (
              <option key={t} value={t}>
                {label}
              </option>
            ))}
          </select>
        </span>
      </form>
      <Async state={state} what="alerts">
        {({ alerts, credentials, agents }) => {
          if (!alerts.length) return <p>No alerts{view === 'resolved' ? '' : ' need attention'}.</p>;
          const counts = { high: 0, medium: 0, low: 0 };
          for (const a of alerts) counts[a.severity]++;
          return (
            <div>
              <p class="muted" role="status">
                {alerts.length} alert(s): {counts.high} high, {counts.medium} medium, {counts.low} low.
              </p>
              <table data-testid="alerts">
                <thead>
                  <tr>
                    <th scope="col">Severity</th>
                    <th scope="col">Alert</th>
                    <th scope="col">Credential</th>
                    <th scope="col">Seen</th>
                    <th scope="col">Evidence</th>
                    <th scope="col">Policy action</th>
                    <th scope="col">Status</th>
                    {mayAct && <th scope="col">Action</th>}
                  </tr>
                </thead>
                <tbody>
                  {alerts.map((original) => {
                    const a = changed[original.id] ?? original;
                    const c = credentials.get(a.credentialId);
                    return (
                      <AlertRow
                        key={a.id}
                        alert={a}
                        clientId={c?.clientId ?? a.credentialId}
                        environment={c?.environment}
                        agent={agents.get(a.agentId) ?? a.agentId}
                        mayAct={mayAct}
                        onChange={update}
                      />
                    );
                  })}
                </tbody>
              </table>
            </div>
          );
        }}
      </Async>
    </main>
  );
}

function AlertRow(props: {
  alert: Alert;
  clientId: string;
  environment?: string;
  agent: string;
  mayAct: boolean;
  onChange: (a: Alert) => void;
}) {
  const a = props.alert;
  const name = `${ALERT_TYPES[a.type] ?? a.type} on ${props.clientId}`;
  return (
    <tr data-alert={a.id}>
      <td>
        <Status value={a.severity} />
      </td>
      <td>{ALERT_TYPES[a.type] ?? a.type}</td>
      <td>
        <Link href={`/console/credentials/${a.credentialId}`} class="mono">
          {props.clientId}
        </Link>
        <br />
        <span class="small muted">
          {props.agent}
          {props.environment && `, ${props.environment}`}
        </span>
      </td>
      <td class="small">
        {a.count}× · first {when(a.firstSeenAt)}
        <br />
        last {when(a.lastSeenAt)}
      </td>
      <td class="small data">
        <Evidence evidence={a.evidence} />
      </td>
      <td class="small">
        {a.action ? (
          <span>
            {a.action.skipped
              ? `${a.action.type} skipped: ${a.action.skipped}`
              : `${a.action.type === 'revoke' ? 'revoked' : 'rotated'} ${when(a.action.at)}`}
            {a.action.revocationId && (
              <>
                {' '}
                <Link href={`/console/revocations/${a.action.revocationId}`}>propagation</Link>
              </>
            )}
          </span>
        ) : (
          <span class="muted">none</span>
        )}
      </td>
      <td>
        <span class={`status ${a.status === 'open' ? 'status-alert-open' : `status-${a.status}`}`}>{a.status}</span>
        {a.status === 'resolved' && (
          <span class="small">
            <br />
            {when(a.resolvedAt)}: “{a.resolutionNote}”
          </span>
        )}
        {a.status === 'acknowledged' && <span class="small muted"> {when(a.acknowledgedAt)}</span>}
      </td>
      {props.mayAct && (
        <td>
          {a.status !== 'resolved' && (
            <div class="row nowrap" role="group" aria-label={`Handle: ${name}`}>
              {a.status === 'open' && (
                <ActionButton label="Acknowledge" run={async () => props.onChange(await post<Alert>(`/v1/alerts/${a.id}/acknowledge`))} />
              )}
              <DangerAction
                calm
                label="Resolve"
                confirmLabel="Resolve alert"
                explain={`Closes this alert. A later sighting of the same kind opens a new one. This does not revoke or rotate ${props.clientId}: use its page for that.`}
                reasonLabel="Note (what was found; recorded with the alert)"
                onConfirm={async (note) => props.onChange(await post<Alert>(`/v1/alerts/${a.id}/resolve`, { note }))}
              />
            </div>
          )}
        </td>
      )}
    </tr>
  );
}

/** The evidence object as short "key: value" lines (addresses, counts, codes; the API never puts a key in it). */
function Evidence(props: { evidence: Record<string, unknown> }) {
  const entries = Object.entries(props.evidence ?? {});
  if (!entries.length) return <span class="muted">—</span>;
  return (
    <span>
      {entries.map(([k, v], i) => (
        <span key={k}>
          {i > 0 && <br />}
          <span class="muted">{k}:</span> <span class="mono">{show(v)}</span>
        </span>
      ))}
    </span>
  );
}

function show(v: unknown): string {
  if (Array.isArray(v)) return v.join(' ');
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)) return when(v);
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}

/** A credential's alerts (newest first), on its page: what a responder arriving from a search or a leak wants to see next. */
export function CredentialAlerts(props: { credentialId: string; mayAct: boolean }) {
  const state = useAsync(() => get<Page<Alert>>(`/v1/alerts?credentialId=${props.credentialId}&limit=20`), [props.credentialId]);
  return (
    <section aria-labelledby="cred-alerts">
      <h2 id="cred-alerts">Alerts</h2>
      <Async state={state} what="alerts">
        {(page) =>
          page.items.length === 0 ? (
            <p class="muted">No alerts on this credential.</p>
          ) : (
            <table class="compact" data-testid="credential-alerts">
              <thead>
                <tr>
                  <th scope="col">Severity</th>
                  <th scope="col">Alert</th>
                  <th scope="col">Status</th>
                  <th scope="col">Count</th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((a) => (
                  <tr key={a.id}>
                    <td>
                      <Status value={a.severity} />
                    </td>
                    <td>{ALERT_TYPES[a.type] ?? a.type}</td>
                    <td>
                      <span class={`status ${a.status === 'open' ? 'status-alert-open' : `status-${a.status}`}`}>{a.status}</span>
                    </td>
                    <td>{a.count}</td>
                    <td>{when(a.lastSeenAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Async>
      {props.mayAct && state.data && state.data.items.some((a) => a.status !== 'resolved') && (
        <p>
          <Link href="/console/alerts">Acknowledge or resolve on the Alerts page</Link>
        </p>
      )}
    </section>
  );
}
