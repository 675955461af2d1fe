import { StrictMode, useEffect, useState, useSyncExternalStore } from 'react';
import { createRoot } from 'react-dom/client';
import { api, call, messageOf, session } from './api';
import { Link, href, useRoute } from './router';
import { Loading } from './ui';
import { LoginPage } from './pages/login';
import { OverviewPage } from './pages/overview';
import { ReceiptPage, ReceiptsPage } from './pages/receipts';
import { TaskRunPage, TaskRunsPage } from './pages/tasks';
import { WebhookPage, WebhooksPage } from './pages/webhooks';
import { SourcePage, SourcesPage } from './pages/sources';
import { ProgramsPage } from './pages/programs';
import { EventPage, EventTypesPage, EventsPage } from './pages/events';
import { ApiKeysPage, AuditPage, UsersPage } from './pages/admin';
import './styles.css';

const NAV: Array<{ path: string; label: string; admin?: boolean }> = [
  { path: 'overview', label: 'Overview' },
  { path: 'sources', label: 'Sources' },
  { path: 'receipts', label: 'Receipts' },
  { path: 'programs', label: 'Programs' },
  { path: 'tasks', label: 'Task runs' },
  { path: 'event-types', label: 'Event types' },
  { path: 'events', label: 'Events' },
  { path: 'webhooks', label: 'Webhooks' },
  { path: 'api-keys', label: 'API keys' },
  { path: 'users', label: 'Users', admin: true },
  { path: 'audit', label: 'Audit log', admin: true },
];

function useSession() {
  return useSyncExternalStore(
    (l) => session.subscribe(l),
    () => `${session.current ?? ''}|${session.me?.id ?? ''}|${session.me?.role ?? ''}`,
  );
}

function App() {
  useSession();
  const [meError, setMeError] = useState<string | null>(null);
  const token = session.current;

  // A token kept from before a reload: ask who it belongs to.
  useEffect(() => {
    if (!token || session.me) return;
    call(api.GET('/api/auth/me')).then(
      (me) => session.setMe(me),
      (err: unknown) => setMeError(messageOf(err)),
    );
  }, [token]);

  if (!token) return <LoginPage />;
  if (!session.me) return meError ? <p className="error">{meError}</p> : <Loading what="your account" />;
  return <Shell />;
}

function Shell() {
  const route = useRoute();
  const [section = 'overview'] = route.parts;
  const me = session.me!;
  return (
    <div className="shell">
      <nav className="side" aria-label="Sections">
        <a className="brand" href={href('overview')}>
          Hookhub
        </a>
        <ul>
          {NAV.filter((n) => !n.admin || session.can('admin')).map((n) => (
            <li key={n.path}>
              <Link to={href(n.path)} aria-current={section === n.path ? 'page' : undefined}>
                {n.label}
              </Link>
            </li>
          ))}
        </ul>
        <div className="who">
          <span data-testid="who">
            {me.username} <small className="muted">({me.role})</small>
          </span>
          <button type="button" onClick={() => session.end('You signed out.')}>
            Sign out
          </button>
        </div>
      </nav>
      <main>
        <Content parts={route.parts} query={route.query} />
      </main>
    </div>
  );
}

function Content(props: { parts: string[]; query: URLSearchParams }) {
  const [section = 'overview', id] = props.parts;
  switch (section) {
    case 'overview':
      return <OverviewPage />;
    case 'sources':
      return id ? <SourcePage id={id} /> : <SourcesPage />;
    case 'receipts':
      return id ? <ReceiptPage id={id} /> : <ReceiptsPage query={props.query} />;
    case 'programs':
      return <ProgramsPage />;
    case 'tasks':
      return id ? <TaskRunPage id={id} /> : <TaskRunsPage query={props.query} />;
    case 'event-types':
      return <EventTypesPage />;
    case 'events':
      return id ? <EventPage id={id} /> : <EventsPage />;
    case 'webhooks':
      return id ? <WebhookPage id={id} /> : <WebhooksPage />;
    case 'api-keys':
      return <ApiKeysPage />;
    case 'users':
      return <UsersPage />;
    case 'audit':
      return <AuditPage />;
    default:
      return (
        <p className="error" role="alert">
          No such page: {section}. <Link to={href('overview')}>Go to the overview</Link>.
        </p>
      );
  }
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
