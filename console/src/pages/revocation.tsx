import { useEffect, useState } from 'preact/hooks';

import { get } from '../api';
import type { Revocation } from '../types';
import { ErrorNote, Loading, Status, when } from '../ui';

/**
 * A revocation's propagation: asks the API to hold the answer until every
 * gateway has acknowledged (waitSeconds), and asks again until then.
 */
export function RevocationPage(props: { id: string }) {
  const [revocation, setRevocation] = useState<Revocation | null>(null);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let live = true;
    let first = true;
    const poll = async () => {
      while (live) {
        try {
          const r = await get<Revocation>(`/v1/revocations/${props.id}${first ? '' : '?waitSeconds=10'}`);
          first = false;
          if (!live) return;
          setRevocation(r);
          setError(undefined);
          if (r.status !== 'propagating') return;
        } catch (e) {
          if (!live) return;
          setError(e);
          await new Promise((resolve) => setTimeout(resolve, 3000));
        }
      }
    };
    void poll();
    return () => {
      live = false;
    };
  }, [props.id]);
  if (!revocation) return <main>{error ? <ErrorNote error={error} /> : <Loading what="revocation" />}</main>;
  const r = revocation;
  const acknowledged = r.deliveries.filter((d) => d.status === 'delivered').length;
  const shown = r.credentialIds.slice(0, 20);
  return (
    <main>
      <h1>Revocation</h1>
      <p class={`banner banner-${r.status}`} role="status" aria-live="polite" data-testid="propagation-status">
        {r.status === 'complete'
          ? `Complete: every gateway acknowledged (${acknowledged} of ${r.deliveries.length}).`
          : r.status === 'failed'
            ? `Failed: some gateway gave up (${acknowledged} of ${r.deliveries.length} acknowledged). Retry its delivery from Failures.`
            : `Propagating: ${acknowledged} of ${r.deliveries.length} gateways acknowledged. This page updates by itself.`}
      </p>
      <dl class="facts">
        <dt>Reason</dt>
        <dd>{r.reason}</dd>
        <dt>Revoked at</dt>
        <dd>{when(r.revokedAt)}</dd>
        <dt>Credentials</dt>
        <dd>
          {r.credentialIds.length}:{' '}
          <span class="mono small">
            {shown.join(' ')}
            {r.credentialIds.length > shown.length && ` and ${r.credentialIds.length - shown.length} more`}
          </span>
        </dd>
      </dl>
      {error !== undefined && <ErrorNote error={error} />}
      <table data-testid="propagation">
        <thead>
          <tr>
            <th scope="col">Gateway</th>
            <th scope="col">Status</th>
            <th scope="col">Delivered</th>
            <th scope="col">Pending</th>
            <th scope="col">Failed</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last delivered</th>
            <th scope="col">Last error</th>
          </tr>
        </thead>
        <tbody>
          {r.deliveries.map((d) => (
            <tr key={d.gatewayId}>
              <td class="mono">{d.gatewayId}</td>
              <td>
                <Status value={d.status} />
              </td>
              <td>
                {d.delivered} of {d.total}
              </td>
              <td>{d.pending}</td>
              <td>{d.failed}</td>
              <td>{d.attempts}</td>
              <td>{when(d.deliveredAt)}</td>
              <td>{d.lastError ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {r.deliveries.length === 0 && <p class="muted">No gateway serves this environment.</p>}
    </main>
  );
}
