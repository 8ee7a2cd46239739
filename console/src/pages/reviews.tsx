import { useState } from 'preact/hooks';

import { all, get, post } from '../api';
import type { Campaign, CampaignProgress, ReviewItem, Session, Signoff } from '../types';
import { ActionButton, Async, DangerAction, ErrorNote, Flags, Link, Status, useAsync, when } from '../ui';

/**
 * Owner: "My reviews". Every open campaign with this owner's items (pending
 * and decided), a decision per item, and the sign-off once none is pending.
 */
export function MyReviews(props: { session: Session }) {
  const campaigns = useAsync(() => all<Campaign>('/v1/campaigns?status=open'), []);
  return (
    <main>
      <h1>My reviews</h1>
      <Async state={campaigns} what="campaigns">
        {(list) =>
          list.length === 0 ? (
            <p>No campaign is open. Nothing to review.</p>
          ) : (
            <div>
              {list.map((c) => (
                <CampaignReview key={c.id} campaignId={c.id} ownerId={props.session.ownerId ?? ''} />
              ))}
            </div>
          )
        }
      </Async>
    </main>
  );
}

/** One campaign's items of one owner; also the page /console/campaigns/:id?ownerId= for admins and auditors. */
export function CampaignReview(props: { campaignId: string; ownerId: string; readOnly?: boolean }) {
  const state = useAsync(async () => {
    const [progress, items] = await Promise.all([
      get<CampaignProgress>(`/v1/campaigns/${props.campaignId}`),
      all<ReviewItem>(`/v1/campaigns/${props.campaignId}/items?ownerId=${encodeURIComponent(props.ownerId)}`),
    ]);
    return { progress, items };
  }, [props.campaignId, props.ownerId]);
  const [items, setItems] = useState<ReviewItem[] | null>(null);
  const [signoff, setSignoff] = useState<Signoff | null>(null);
  return (
    <Async state={state} what="review items">
      {({ progress, items: loaded }) => {
        const current = items ?? loaded;
        const mine = progress.owners.find((o) => o.ownerId === props.ownerId);
        const pending = current.filter((i) => i.status === 'pending').length;
        const update = (item: ReviewItem) => setItems(current.map((i) => (i.id === item.id ? item : i)));
        const signed =
          signoff ??
          (mine?.signedOffAt ? { signedAt: mine.signedOffAt, decisionsSha256: mine.decisionsSha256 ?? '', statement: '' } : null);
        return (
          <section class="campaign" aria-labelledby={`c-${progress.id}`}>
            <h2 id={`c-${progress.id}`}>
              {progress.name} <Status value={progress.status} />
            </h2>
            <p class="muted">
              Due {when(progress.dueAt)} · undecided items are set to <strong>{progress.onExpiry}</strong> at the deadline ·{' '}
              {current.length - pending} of {current.length} decided
            </p>
            {!props.readOnly && progress.status === 'open' && (
              <AcceptRecommendations
                campaignId={progress.id}
                items={current}
                onDecided={(decided) => setItems(current.map((i) => decided.find((d) => d.id === i.id) ?? i))}
              />
            )}
            <table class="items" data-testid="review-items">
              <thead>
                <tr>
                  <th scope="col">Agent</th>
                  <th scope="col">Client id</th>
                  <th scope="col">Env</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Risk</th>
                  <th scope="col">Usage before open</th>
                  <th scope="col">Recommendation</th>
                  <th scope="col">Decision</th>
                </tr>
              </thead>
              <tbody>
                {current.map((item) => (
                  <ItemRow key={item.id} item={item} onDecided={update} readOnly={props.readOnly || progress.status !== 'open'} />
                ))}
              </tbody>
            </table>
            {current.length === 0 && <p>No items of yours in this campaign.</p>}
            {!props.readOnly && current.length > 0 && (
              <SignOff campaignId={progress.id} pending={pending} signed={signed} onSigned={setSignoff} />
            )}
          </section>
        );
      }}
    </Async>
  );
}

function ItemRow(props: { item: ReviewItem; onDecided: (item: ReviewItem) => void; readOnly: boolean }) {
  const { item } = props;
  const [reducing, setReducing] = useState(false);
  // Reducing starts from the recommendation's scopes (those used) when there is one, else every read/write scope.
  const [keep, setKeep] = useState<string[]>(
    item.recommendation?.decision === 'reduce' && item.recommendation.scopes?.length
      ? item.recommendation.scopes
      : item.snapshot.scopes.filter((s) => !/:(delete|admin)$/.test(s)),
  );
  const [error, setError] = useState<unknown>();
  const decide = async (body: Record<string, unknown>) => {
    setError(undefined);
    try {
      props.onDecided(await post<ReviewItem>(`/v1/campaigns/${item.campaignId}/items/${item.id}/decision`, body));
      setReducing(false);
    } catch (e) {
      setError(e);
      throw e;
    }
  };
  const label = `${item.snapshot.agentName} ${item.snapshot.clientId}`;
  return (
    <tr data-item={item.id}>
      <td>
        <Link href={`/console/credentials/${item.credentialId}`}>{item.snapshot.agentName}</Link>
      </td>
      <td class="mono">{item.snapshot.clientId}</td>
      <td>{item.snapshot.environment}</td>
      <td class="mono small">{item.snapshot.scopes.join(' ')}</td>
      <td>
        <Flags flags={item.riskFlags} />
      </td>
      <td class="small usage">
        <ItemUsage item={item} />
      </td>
      <td class="small">
        <RecommendationCell item={item} />
      </td>
      <td class="decision">
        {item.status !== 'pending' || props.readOnly ? (
          <span>
            <Status value={item.decision ?? item.status} /> {item.comment && <span class="muted">“{item.comment}”</span>}
          </span>
        ) : reducing ? (
          <form
            class="reduce"
            onSubmit={(e) => {
              e.preventDefault();
              void decide({ decision: 'reduce', scopes: keep }).catch(() => undefined);
            }}
          >
            <fieldset>
              <legend>Scopes to keep</legend>
              {item.snapshot.scopes.map((scope) => (
                <label key={scope} class="check">
                  <input
                    type="checkbox"
                    checked={keep.includes(scope)}
                    onChange={(e) => setKeep(e.currentTarget.checked ? [...keep, scope] : keep.filter((s) => s !== scope))}
                  />{' '}
                  <span class="mono">{scope}</span>
                </label>
              ))}
            </fieldset>
            <button type="submit" disabled={keep.length === 0 || keep.length === item.snapshot.scopes.length}>
              Keep only these
            </button>{' '}
            <button type="button" onClick={() => setReducing(false)}>
              Cancel
            </button>
          </form>
        ) : (
          <div class="row" role="group" aria-label={`Decision for ${label}`}>
            <ActionButton label="Keep" run={() => decide({ decision: 'keep' })} />
            <button type="button" onClick={() => setReducing(true)} disabled={item.snapshot.scopes.length < 2}>
              Reduce…
            </button>
            <DangerAction
              label="Revoke"
              confirmLabel="Revoke credential"
              explain={`Revokes ${item.snapshot.clientId} now: gateways stop accepting it within seconds and ${item.snapshot.agentName} loses access.`}
              onConfirm={(reason) => decide({ decision: 'revoke', comment: reason })}
            />
          </div>
        )}
        {error !== undefined && <ErrorNote error={error} />}
      </td>
    </tr>
  );
}

function SignOff(props: { campaignId: string; pending: number; signed: Signoff | null; onSigned: (s: Signoff) => void }) {
  const [statement, setStatement] = useState('');
  const [error, setError] = useState<unknown>();
  if (props.signed)
    return (
      <div class="ok" data-testid="signed-off">
        Signed off {when(props.signed.signedAt)}. Recorded decisions SHA-256: <code class="mono">{props.signed.decisionsSha256}</code>
      </div>
    );
  if (props.pending > 0) return <p class="muted">Decide the {props.pending} pending item(s) to sign off.</p>;
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      props.onSigned(
        await post<Signoff>(`/v1/campaigns/${props.campaignId}/signoff`, statement.trim() ? { statement: statement.trim() } : {}),
      );
    } catch (e) {
      setError(e);
    }
  };
  return (
    <form class="signoff" onSubmit={submit}>
      <label for={`st-${props.campaignId}`}>Statement (what you attest)</label>
      <textarea
        id={`st-${props.campaignId}`}
        rows={2}
        class="wide"
        value={statement}
        placeholder="I have reviewed every credential of my agents in this campaign."
        onInput={(e) => setStatement(e.currentTarget.value)}
      />
      <button type="submit">Sign off</button>
      {error !== undefined && <ErrorNote error={error} />}
    </form>
  );
}

/** What the item's credential did in the 90 days before the campaign opened (allowed calls are uses; refused ones are not). */
function ItemUsage(props: { item: ReviewItem }) {
  const u = props.item.usage;
  if (!u) return <span class="muted">last used {when(props.item.snapshot.lastUsedAt)}</span>;
  const unused = props.item.snapshot.scopes.filter((s) => !u.scopesUsed90d.includes(s));
  return (
    <span>
      {u.calls90d} calls in 90 d ({u.calls30d} in 30 d){u.denied90d > 0 && <span class="warning"> · {u.denied90d} refused</span>}
      <br />
      last used {when(u.lastUsedAt)}
      {unused.length > 0 && u.calls90d > 0 && (
        <>
          <br />
          unused: <span class="mono">{unused.join(' ')}</span>
        </>
      )}
    </span>
  );
}

function RecommendationCell(props: { item: ReviewItem }) {
  const r = props.item.recommendation;
  if (!r) return <span class="muted">none</span>;
  return (
    <span>
      <Status value={r.decision} />
      {r.decision === 'reduce' && r.scopes && <span class="mono"> to {r.scopes.join(' ')}</span>}
      <br />
      <span class="muted">{r.reason}</span>
    </span>
  );
}

/**
 * Accept the recommendations of every pending item in one call (all or
 * nothing). Sent as the listed items with their recommended decisions, so
 * exactly what the owner saw is decided and the reason is recorded as each
 * decision's comment (the API's acceptRecommendations form takes no comment).
 */
function AcceptRecommendations(props: { campaignId: string; items: ReviewItem[]; onDecided: (items: ReviewItem[]) => void }) {
  const pending = props.items.filter((i) => i.status === 'pending');
  const withRec = pending.filter((i) => i.recommendation);
  if (!pending.length || !withRec.length) return null;
  const count = (d: string) => withRec.filter((i) => i.recommendation!.decision === d).length;
  const [keep, reduce, revoke] = [count('keep'), count('reduce'), count('revoke')];
  const without = pending.length - withRec.length;
  const changes = reduce + revoke > 0;
  const parts = [
    keep && `keeps ${keep}`,
    reduce && `reduces ${reduce} to the scopes they used`,
    revoke && `revokes ${revoke} now (gateways stop accepting them within seconds)`,
  ].filter(Boolean);
  return (
    <div class="actions" data-testid="accept-recommendations">
      <span class="muted">
        Recommendations for {withRec.length} of {pending.length} pending item(s): keep {keep}, reduce {reduce}, revoke {revoke}.
        {without > 0 && ` ${without} without a recommendation stay pending.`}
      </span>
      <DangerAction
        label={`Accept ${withRec.length} recommendation${withRec.length === 1 ? '' : 's'}`}
        confirmLabel="Decide as recommended"
        explain={`Decides ${withRec.length} pending item(s) as recommended, all or nothing: ${parts.join(', ')}.${changes ? ' Reduced and revoked access is not given back by this campaign.' : ''}`}
        reasonLabel="Reason (recorded as each decision's comment)"
        needsReason={changes}
        calm={!changes}
        onConfirm={async (reason) => {
          const result = await post<{ decided: number; items: ReviewItem[] }>(`/v1/campaigns/${props.campaignId}/decisions`, {
            items: withRec.map((i) => ({
              itemId: i.id,
              decision: i.recommendation!.decision,
              ...(i.recommendation!.decision === 'reduce' ? { scopes: i.recommendation!.scopes } : {}),
              ...(reason ? { comment: reason } : {}),
            })),
          });
          props.onDecided(result.items);
        }}
      />
    </div>
  );
}
