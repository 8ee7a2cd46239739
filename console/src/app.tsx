import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { api, ApiError, describeError, get, setCsrfToken, SIGNED_OUT_EVENT } from './api';
import { Approvals, CampaignPage, Campaigns, Failures, Gateways, Tokens } from './pages/admin';
import { MyAgents } from './pages/agents';
import { Alerts } from './pages/alerts';
import { AuditLog } from './pages/audit';
import { CredentialPage } from './pages/credential';
import { Respond } from './pages/respond';
import { CampaignReview, MyReviews } from './pages/reviews';
import { RevocationPage } from './pages/revocation';
import { BulkRevoke, Revocations } from './pages/revocations';
import { match, navigate, useLocation } from './router';
import type { Role, Session } from './types';
import { Link, Loading } from './ui';

/** What each role finds in the navigation, first entry = its home page. */
const NAV: Record<Role, Array<[path: string, label: string]>> = {
  owner: [
    ['/console/reviews', 'My reviews'],
    ['/console/agents', 'My agents'],
    ['/console/alerts', 'Alerts'],
  ],
  responder: [
    ['/console/respond', 'Respond'],
    ['/console/alerts', 'Alerts'],
    ['/console/revocations', 'Revocations'],
    ['/console/bulk-revoke', 'Revoke by filter'],
  ],
  admin: [
    ['/console/approvals', 'Approvals'],
    ['/console/campaigns', 'Campaigns'],
    ['/console/failures', 'Failures'],
    ['/console/gateways', 'Gateways'],
    ['/console/tokens', 'API tokens'],
    ['/console/respond', 'Respond'],
    ['/console/alerts', 'Alerts'],
    ['/console/revocations', 'Revocations'],
    ['/console/audit', 'Audit log'],
  ],
  auditor: [
    ['/console/audit', 'Audit log'],
    ['/console/campaigns', 'Campaign reports'],
    ['/console/revocations', 'Revocations'],
    ['/console/alerts', 'Alerts'],
  ],
};

/**
 * Pages by path. A new page is one entry here and one in NAV.
 */
function page(path: string, session: Session): JSX.Element | null {
  const p = (pattern: string) => match(pattern, path);
  const r = session.role;
  let m: Record<string, string> | null;
  if (r === 'owner' && p('/console/reviews')) return <MyReviews session={session} />;
  if (r === 'owner' && p('/console/agents')) return <MyAgents session={session} />;
  if ((r === 'responder' || r === 'admin') && p('/console/respond')) return <Respond session={session} />;
  if ((m = p('/console/credentials/:id'))) return <CredentialPage id={m.id} session={session} />;
  if (p('/console/alerts')) return <Alerts session={session} />;
  if (r !== 'owner' && p('/console/revocations')) return <Revocations session={session} />;
  if ((r === 'responder' || r === 'admin') && p('/console/bulk-revoke')) return <BulkRevoke />;
  if ((m = p('/console/revocations/:id'))) return <RevocationPage id={m.id} />;
  if (r === 'admin' && p('/console/approvals')) return <Approvals session={session} />;
  if ((r === 'admin' || r === 'auditor') && p('/console/campaigns')) return <Campaigns session={session} />;
  if ((m = p('/console/campaigns/:id'))) return <CampaignPage id={m.id} session={session} />;
  if ((m = p('/console/campaigns/:id/owners/:ownerId')))
    return (
      <main>
        <h1>Review items</h1>
        <CampaignReview campaignId={m.id} ownerId={m.ownerId} readOnly={r !== 'owner'} />
      </main>
    );
  if (r === 'admin' && p('/console/failures')) return <Failures />;
  if (r === 'admin' && p('/console/gateways')) return <Gateways />;
  if (r === 'admin' && p('/console/tokens')) return <Tokens />;
  if ((r === 'admin' || r === 'auditor') && p('/console/audit')) return <AuditLog />;
  return null;
}

export function App() {
  const url = useLocation();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  useEffect(() => {
    get<Session>('/console/session').then(
      (s) => {
        setCsrfToken(s.csrfToken);
        setSession(s);
      },
      () => setSession(null),
    );
    const signedOut = () => setSession(null);
    window.addEventListener(SIGNED_OUT_EVENT, signedOut);
    return () => window.removeEventListener(SIGNED_OUT_EVENT, signedOut);
  }, []);

  if (session === undefined) return <Loading what="session" />;
  if (session === null) return <SignIn onSignedIn={setSession} />;

  const nav = NAV[session.role];
  const path = url.pathname.replace(/\/$/, '');
  if (path === '/console' || path === '/console/sign-in') {
    const next = url.searchParams.get('next');
    if (next === '/admin/queues' && session.role === 'admin') location.assign(next);
    else navigate(nav[0][0]);
    return <Loading />;
  }
  const content = page(path, session) ?? (
    <main>
      <h1>Not here</h1>
      <p>There is no such page for the {session.role} role.</p>
    </main>
  );
  const signOut = async () => {
    await api('DELETE', '/console/session').catch(() => undefined);
    setSession(null);
    navigate('/console/sign-in');
  };
  return (
    <div class="layout">
      <header>
        <span class="brand">Credentials</span>
        <nav aria-label="Main">
          {nav.map(([href, label]) => (
            <Link key={href} href={href} current={path === href}>
              {label}
            </Link>
          ))}
          {session.role === 'admin' && <a href="/admin/queues">Queues</a>}
        </nav>
        <span class="who">
          {session.tokenName} ({session.role})
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      {content}
    </div>
  );
}

function SignIn(props: { onSignedIn: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      await api('POST', '/console/session', { token: token.trim() });
      setToken('');
      const s = await get<Session>('/console/session');
      setCsrfToken(s.csrfToken);
      props.onSignedIn(s);
    } catch (e) {
      setError(e instanceof ApiError && e.status === 401 ? 'That token is unknown or revoked.' : describeError(e));
    }
  };
  return (
    <main class="signin">
      <h1>Sign in</h1>
      <p>Paste an API token. The console keeps a session for 12 hours; the token itself is not stored.</p>
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <input
          id="token"
          type="password"
          class="wide mono"
          autoComplete="off"
          required
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
        />
        <button type="submit">Sign in</button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </main>
  );
}
