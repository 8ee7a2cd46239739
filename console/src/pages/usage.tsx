import { useState } from 'preact/hooks';

import { get, type Page } from '../api';
import type { CredentialUsage, UsageBucket, UsageEvent } from '../types';
import { Async, ErrorNote, useAsync, when } from '../ui';

type Range = 'hour' | 'day';
const RANGES: Array<[Range, string]> = [
  ['hour', 'Last 24 hours, by hour'],
  ['day', 'Last 30 days, by day'],
];

/**
 * A credential's usage: calls and denials per hour or day (a bar chart and the
 * figures behind it), calls by scope, the busiest addresses, and the latest
 * per-call records. Everything from GET /v1/credentials/:id/usage and
 * GET /v1/usage/events, so an owner sees it only for its own credentials.
 */
export function CredentialUsageView(props: { credentialId: string }) {
  const [range, setRange] = useState<Range>('hour');
  const usage = useAsync(
    () => get<CredentialUsage>(`/v1/credentials/${props.credentialId}/usage?granularity=${range}`),
    [props.credentialId, range],
  );
  return (
    <section aria-labelledby="usage-title" data-testid="usage">
      <h2 id="usage-title">Usage</h2>
      <div class="row range" role="group" aria-label="Usage range">
        {RANGES.map(([value, label]) => (
          <button
            key={value}
            type="button"
            aria-pressed={range === value}
            class={range === value ? 'pressed' : ''}
            onClick={() => setRange(value)}
          >
            {label}
          </button>
        ))}
      </div>
      <Async state={usage} what="usage">
        {(u) => <UsageFigures usage={u} />}
      </Async>
      <UsageEvents credentialId={props.credentialId} />
    </section>
  );
}

function UsageFigures(props: { usage: CredentialUsage }) {
  const u = props.usage;
  const calls = u.buckets.reduce((n, b) => n + b.calls, 0);
  const denied = u.buckets.reduce((n, b) => n + b.denied, 0);
  const byScope = new Map<string, number>();
  for (const b of u.buckets) for (const [scope, n] of Object.entries(b.byScope)) byScope.set(scope, (byScope.get(scope) ?? 0) + n);
  const unit = u.granularity === 'hour' ? 'hour' : 'day';
  const busiest = u.buckets.reduce<UsageBucket | null>((max, b) => (!max || b.calls > max.calls ? b : max), null);
  return (
    <div>
      <dl class="facts" data-testid="usage-summary">
        <dt>Calls</dt>
        <dd>
          {calls} ({denied} denied) from {when(u.from)} to {when(u.to)}
        </dd>
        <dt>Busiest {unit}</dt>
        <dd>{busiest && busiest.calls > 0 ? `${when(busiest.start)}: ${busiest.calls} calls, ${busiest.distinctIps} addresses` : '—'}</dd>
        <dt>Last used</dt>
        <dd>
          {when(u.lastUsedAt)}
          {u.lastUsedIp && <span class="mono"> from {u.lastUsedIp}</span>}
        </dd>
      </dl>
      <UsageChart buckets={u.buckets} unit={unit} calls={calls} denied={denied} />
      <div class="cols">
        <div>
          <h3>Calls by scope</h3>
          {byScope.size === 0 ? (
            <p class="muted">No call named a scope.</p>
          ) : (
            <table class="compact">
              <thead>
                <tr>
                  <th scope="col">Scope</th>
                  <th scope="col">Calls</th>
                </tr>
              </thead>
              <tbody>
                {[...byScope.entries()]
                  .sort((a, b) => b[1] - a[1])
                  .map(([scope, n]) => (
                    <tr key={scope}>
                      <td class="mono">{scope}</td>
                      <td>{n}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          )}
        </div>
        <div>
          <h3>Busiest addresses</h3>
          {u.topIps.length === 0 ? (
            <p class="muted">No calls in this range.</p>
          ) : (
            <table class="compact" data-testid="top-ips">
              <thead>
                <tr>
                  <th scope="col">Address</th>
                  <th scope="col">Calls</th>
                </tr>
              </thead>
              <tbody>
                {u.topIps.map((ip) => (
                  <tr key={ip.ip}>
                    <td class="mono">{ip.ip}</td>
                    <td>{ip.calls}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </div>
    </div>
  );
}

/**
 * Bars drawn with SVG attributes (the CSP allows no inline style): allowed
 * calls in the calm colour, denied ones stacked on top in red. Screen readers
 * get the totals; the per-bucket figures are in each bar's title.
 */
function UsageChart(props: { buckets: UsageBucket[]; unit: string; calls: number; denied: number }) {
  const { buckets } = props;
  const max = Math.max(1, ...buckets.map((b) => b.calls));
  const width = 720;
  const height = 80;
  const step = width / Math.max(1, buckets.length);
  const bar = Math.max(1, step - 2);
  return (
    <svg
      class="chart"
      viewBox={`0 0 ${width} ${height + 14}`}
      width={width}
      height={height + 14}
      role="img"
      aria-label={`Calls per ${props.unit}: ${props.calls} in all, ${props.denied} denied, at most ${max} in one ${props.unit}`}
    >
      <line x1={0} y1={height} x2={width} y2={height} class="axis" />
      {buckets.map((b, i) => {
        const allowed = b.calls - b.denied;
        const hAllowed = (allowed / max) * height;
        const hDenied = (b.denied / max) * height;
        return (
          <g key={b.start}>
            <title>{`${when(b.start)}: ${b.calls} calls, ${b.denied} denied, ${b.distinctIps} addresses`}</title>
            <rect x={i * step} y={height - hAllowed - hDenied} width={bar} height={hDenied} class="bar-denied" />
            <rect x={i * step} y={height - hAllowed} width={bar} height={hAllowed} class="bar-allowed" />
          </g>
        );
      })}
      <text x={0} y={height + 12} class="tick">
        {when(buckets[0]?.start)}
      </text>
      <text x={width} y={height + 12} class="tick" text-anchor="end">
        {when(buckets[buckets.length - 1]?.start)}
      </text>
    </svg>
  );
}

/** The latest per-call records, 50 at a time. */
function UsageEvents(props: { credentialId: string }) {
  const [more, setMore] = useState<UsageEvent[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const first = useAsync(async () => {
    const page = await get<Page<UsageEvent>>(`/v1/usage/events?credentialId=${props.credentialId}&limit=50`);
    setMore([]);
    setCursor(page.nextCursor);
    return page.items;
  }, [props.credentialId]);
  const next = async () => {
    if (!cursor) return;
    try {
      const page = await get<Page<UsageEvent>>(
        `/v1/usage/events?credentialId=${props.credentialId}&limit=50&cursor=${encodeURIComponent(cursor)}`,
      );
      setMore([...more, ...page.items]);
      setCursor(page.nextCursor);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <h3>Latest calls</h3>
      <Async state={first} what="calls">
        {(items) => {
          const events = [...items, ...more];
          if (!events.length) return <p class="muted">No calls recorded (records are kept for the retention period only).</p>;
          return (
            <div>
              <table data-testid="usage-events">
                <thead>
                  <tr>
                    <th scope="col">At</th>
                    <th scope="col">Outcome</th>
                    <th scope="col">Method</th>
                    <th scope="col">Path</th>
                    <th scope="col">Scope</th>
                    <th scope="col">Status</th>
                    <th scope="col">Address</th>
                    <th scope="col">Source</th>
                    <th scope="col">Request id</th>
                  </tr>
                </thead>
                <tbody>
                  {events.map((e) => (
                    <tr key={e.id}>
                      <td>{when(e.at)}</td>
                      <td>
                        <span class={`status status-${e.outcome}`}>{e.outcome}</span>
                        {e.denyCode && <span class="small muted"> {e.denyCode}</span>}
                      </td>
                      <td>{e.method ?? ''}</td>
                      <td class="mono small data">{e.path ?? ''}</td>
                      <td class="mono small">{e.scope ?? ''}</td>
                      <td>{e.statusCode ?? ''}</td>
                      <td class="mono">{e.ip ?? ''}</td>
                      <td>{e.source}</td>
                      <td class="mono small">{e.requestId ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {cursor && (
                <button type="button" onClick={next}>
                  Show 50 more
                </button>
              )}
            </div>
          );
        }}
      </Async>
      {error !== undefined && <ErrorNote error={error} />}
    </div>
  );
}
