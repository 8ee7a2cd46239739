import { useState } from 'preact/hooks';

import { get, type Page } from '../api';
import type { AuditEvent } from '../types';
import { Async, ErrorNote, useAsync, when } from '../ui';

interface Verify {
  valid: boolean;
  count: number;
  headHash: string | null;
  firstBrokenSeq?: number | null;
}

const FILTERS = [
  ['actor', 'Actor (token id)'],
  ['action', 'Action'],
  ['targetId', 'Target id'],
  ['since', 'Since (ISO time)'],
  ['until', 'Until (ISO time)'],
] as const;

/** Auditor (and admin): the audit log with filters, and the chain's verification first. */
export function AuditLog() {
  const verify = useAsync(() => get<Verify>('/v1/audit-events/verify'), []);
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [applied, setApplied] = useState<Record<string, string>>({});
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const query = (extra: Record<string, string>) =>
    new URLSearchParams(Object.entries({ ...applied, ...extra, limit: '100' }).filter(([, v]) => v)).toString();
  const first = useAsync(async () => {
    const page = await get<Page<AuditEvent>>(`/v1/audit-events?${query({})}`);
    setEvents(page.items);
    setCursor(page.nextCursor);
    return true;
  }, [JSON.stringify(applied)]);
  const more = async () => {
    if (!cursor) return;
    try {
      const page = await get<Page<AuditEvent>>(`/v1/audit-events?${query({ cursor })}`);
      setEvents([...events, ...page.items]);
      setCursor(page.nextCursor);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <main>
      <h1>Audit log</h1>
      <Async state={verify} what="chain verification">
        {(v) => (
          <p class={`banner ${v.valid ? 'banner-complete' : 'banner-failed'}`} role="status" data-testid="chain-status">
            {v.valid
              ? `Chain verified: ${v.count} events, head ${v.headHash ?? '—'}`
              : `Chain BROKEN at event ${v.firstBrokenSeq ?? '?'}: the log was altered after it was written.`}
          </p>
        )}
      </Async>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ ...filters });
        }}
      >
        {FILTERS.map(([key, label]) => (
          <span key={key}>
            <label for={`f-${key}`}>{label}</label>
            <input id={`f-${key}`} value={filters[key] ?? ''} onInput={(e) => setFilters({ ...filters, [key]: e.currentTarget.value })} />
          </span>
        ))}
        <button type="submit">Filter</button>
      </form>
      <Async state={first} what="events">
        {() => (
          <div>
            <table data-testid="audit-events">
              <thead>
                <tr>
                  <th scope="col">Seq</th>
                  <th scope="col">At</th>
                  <th scope="col">Action</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Target</th>
                  <th scope="col">Data</th>
                </tr>
              </thead>
              <tbody>
                {events.map((e) => (
                  <tr key={e.id}>
                    <td>{e.seq}</td>
                    <td>{when(e.at)}</td>
                    <td>{e.action}</td>
                    <td class="mono small">{typeof e.actor === 'string' ? e.actor : `${e.actor.role} ${e.actor.tokenId}`}</td>
                    <td class="mono small">
                      {e.targetType} {e.targetId}
                    </td>
                    <td class="mono small data">{JSON.stringify(e.data)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {events.length === 0 && <p>No events match.</p>}
            {cursor && (
              <button type="button" onClick={more}>
                Load more
              </button>
            )}
            {error !== undefined && <ErrorNote error={error} />}
          </div>
        )}
      </Async>
    </main>
  );
}
