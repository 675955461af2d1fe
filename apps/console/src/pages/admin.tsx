import { type FormEvent, useState } from 'react';
import { ApiError, type Role, type Schemas, api, call, session } from '../api';
import { SCOPES } from '../api/enums';
import {
  Badge,
  ErrorNote,
  Field,
  FormButtons,
  Json,
  ListView,
  Page,
  Panel,
  ShownOnce,
  TextField,
  Time,
  useAction,
  usePaged,
} from '../ui';

const ROLES: Role[] = ['viewer', 'operator', 'admin'];
type Scope = Schemas['CreateApiKeyDto']['scopes'] extends Array<infer S> | undefined ? S : never;

export function UsersPage() {
  const list = usePaged((cursor) => call(api.GET('/api/users', { params: { query: { cursor, limit: 50 } } })), []);
  const [creating, setCreating] = useState(false);
  const [resetting, setResetting] = useState<string | null>(null);
  const action = useAction();
  if (!session.can('admin')) return <Forbidden />;
  return (
    <Page
      title="Users"
      actions={
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          New user
        </button>
      }
    >
      {creating && (
        <CreateUser
          onDone={(changed) => {
            setCreating(false);
            if (changed) list.reload();
          }}
        />
      )}
      <ErrorNote error={action.error ?? list.error} />
      <ListView list={list} what="users">
        <table data-testid="users">
          <thead>
            <tr>
              <th>Username</th>
              <th>Role</th>
              <th>State</th>
              <th>Last login</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.items.map((u) => (
              <tr key={u.id}>
                <td>{u.username}</td>
                <td>
                  <select
                    aria-label={`Role of ${u.username}`}
                    value={u.role}
                    disabled={u.id === session.me?.id}
                    onChange={(e) =>
                      void action
                        .run(() =>
                          call(
                            api.PATCH('/api/users/{id}', {
                              params: { path: { id: u.id } },
                              body: { role: e.target.value as Role },
                            }),
                          ),
                        )
                        .then((r) => r && list.reload())
                    }
                  >
                    {ROLES.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </select>
                </td>
                <td>
                  <Badge value={u.disabled ? 'disabled' : 'enabled'} />
                </td>
                <td>
                  <Time at={u.last_login_at} />
                </td>
                <td>
                  {u.id !== session.me?.id && (
                    <button
                      type="button"
                      onClick={() =>
                        void action
                          .run(() =>
                            call(
                              api.PATCH('/api/users/{id}', {
                                params: { path: { id: u.id } },
                                body: { disabled: !u.disabled },
                              }),
                            ),
                          )
                          .then((r) => r && list.reload())
                      }
                    >
                      {u.disabled ? 'Enable' : 'Disable'}
                    </button>
                  )}
                  <button type="button" onClick={() => setResetting(resetting === u.id ? null : u.id)}>
                    Set password
                  </button>
                  {u.id !== session.me?.id && (
                    <button
                      type="button"
                      className="danger"
                      onClick={() => {
                        if (!confirm(`Delete the user ${u.username}? Their API keys stop working.`)) return;
                        void action
                          .run(() => call(api.DELETE('/api/users/{id}', { params: { path: { id: u.id } } })))
                          .then((r) => r !== undefined && list.reload());
                      }}
                    >
                      Delete
                    </button>
                  )}
                  {resetting === u.id && <SetPassword userId={u.id} onDone={() => setResetting(null)} />}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </ListView>
    </Page>
  );
}

/** An admin sets another user's password (their existing sessions end). */
function SetPassword(props: { userId: string; onDone: () => void }) {
  const [password, setPassword] = useState('');
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action
      .run(() =>
        call(api.PUT('/api/users/{id}/password', { params: { path: { id: props.userId } }, body: { password } })),
      )
      .then((r) => r !== undefined && props.onDone());
  };
  return (
    <form onSubmit={submit} aria-label="Set password" className="subform">
      <TextField
        label="New password"
        name="password"
        error={action.error}
        type="password"
        autoComplete="new-password"
        value={password}
        onChange={setPassword}
      />
      <ErrorNote error={action.error} />
      <FormButtons busy={action.busy} submit="Set password" onCancel={props.onDone} />
    </form>
  );
}

function CreateUser(props: { onDone: (changed: boolean) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action
      .run(() => call(api.POST('/api/users', { body: { username, password, role } })))
      .then((r) => r && props.onDone(true));
  };
  return (
    <Panel title="New user">
      <form onSubmit={submit} aria-label="New user">
        <TextField label="Username" name="username" error={action.error} value={username} onChange={setUsername} />
        <TextField
          label="Password"
          name="password"
          error={action.error}
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={setPassword}
        />
        <Field label="Role" name="role" error={action.error}>
          {(id, d) => (
            <select id={id} aria-describedby={d} value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          )}
        </Field>
        <ErrorNote error={action.error} />
        <FormButtons busy={action.busy} submit="Create" onCancel={() => props.onDone(false)} />
      </form>
    </Panel>
  );
}

export function ApiKeysPage() {
  const list = usePaged((cursor) => call(api.GET('/api/api-keys', { params: { query: { cursor, limit: 50 } } })), []);
  const [creating, setCreating] = useState(false);
  const action = useAction();
  return (
    <Page
      title="API keys"
      actions={
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          New API key
        </button>
      }
    >
      {creating && (
        <CreateApiKey
          onDone={(changed) => {
            setCreating(false);
            if (changed) list.reload();
          }}
        />
      )}
      <ErrorNote error={action.error ?? list.error} />
      <ListView list={list} what="API keys" empty="No API key: scripts can sign in with one instead of a password.">
        <table data-testid="api-keys">
          <thead>
            <tr>
              <th>Name</th>
              <th>Prefix</th>
              <th>Role / scopes</th>
              <th>Expires</th>
              <th>Last used</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.items.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td>
                  <code>{k.prefix}…</code>
                </td>
                <td>
                  {k.role} / {k.scopes.join(', ')}
                </td>
                <td>
                  <Time at={k.expires_at} />
                </td>
                <td>
                  <Time at={k.last_used_at} />{' '}
                  {k.last_used_ip && <small className="muted">from {k.last_used_ip}</small>}
                </td>
                <td>
                  <button
                    type="button"
                    className="danger"
                    onClick={() => {
                      if (!confirm(`Revoke the API key ${k.name}? Scripts using it stop working at once.`)) return;
                      void action
                        .run(() => call(api.DELETE('/api/api-keys/{id}', { params: { path: { id: k.id } } })))
                        .then((r) => r !== undefined && list.reload());
                    }}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </ListView>
    </Page>
  );
}

function CreateApiKey(props: { onDone: (changed: boolean) => void }) {
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>(session.role);
  const [scopes, setScopes] = useState<Scope[]>(['*']);
  const [days, setDays] = useState('90');
  const [created, setCreated] = useState<string | null>(null);
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action
      .run(() =>
        call(
          api.POST('/api/api-keys', {
            body: { name, role, scopes, expires_in_days: days ? Number(days) : undefined },
          }),
        ),
      )
      .then((r) => r && setCreated(r.key));
  };
  if (created) return <ShownOnce label="API key" value={created} onDone={() => props.onDone(true)} />;
  return (
    <Panel title="New API key">
      <form onSubmit={submit} aria-label="New API key">
        <TextField
          label="Name"
          name="name"
          error={action.error}
          hint="What uses it, e.g. deploy-bot"
          value={name}
          onChange={setName}
        />
        <Field label="Role (at most yours)" name="role" error={action.error}>
          {(id, d) => (
            <select id={id} aria-describedby={d} value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.filter((r) => ROLES.indexOf(r) <= ROLES.indexOf(session.role)).map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          )}
        </Field>
        <fieldset className="field">
          <legend>Scopes</legend>
          {SCOPES.map((s) => (
            <label key={s} className="inline">
              <input
                type="checkbox"
                checked={scopes.includes(s)}
                onChange={(e) => setScopes(e.target.checked ? [...scopes, s] : scopes.filter((x) => x !== s))}
              />{' '}
              {s}
            </label>
          ))}
          {action.error != null && <ErrorForField error={action.error} name="scopes" />}
        </fieldset>
        <TextField
          label="Expires in (days, empty: never)"
          name="expires_in_days"
          error={action.error}
          inputMode="numeric"
          value={days}
          onChange={setDays}
        />
        <ErrorNote error={action.error} />
        <FormButtons busy={action.busy} submit="Create" onCancel={() => props.onDone(false)} />
      </form>
    </Panel>
  );
}

function ErrorForField(props: { error: unknown; name: string }) {
  const messages = props.error instanceof ApiError ? props.error.forField(props.name) : [];
  return messages.length ? (
    <small className="field-error" role="alert">
      {messages.join('; ')}
    </small>
  ) : null;
}

export function AuditPage() {
  const [action, setAction] = useState('');
  const [outcome, setOutcome] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const list = usePaged(
    (cursor) =>
      call(
        api.GET('/api/audit', {
          params: {
            query: {
              cursor,
              limit: 50,
              action: action || undefined,
              outcome: (outcome || undefined) as 'success' | 'failure' | undefined,
            },
          },
        }),
      ),
    [action, outcome],
  );
  if (!session.can('admin')) return <Forbidden />;
  return (
    <Page title="Audit log">
      <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Action <input defaultValue={action} onBlur={(e) => setAction(e.target.value)} placeholder="webhook.create" />
        </label>
        <label>
          Outcome{' '}
          <select value={outcome} onChange={(e) => setOutcome(e.target.value)}>
            <option value="">any</option>
            <option>success</option>
            <option>failure</option>
          </select>
        </label>
      </form>
      <ErrorNote error={list.error} />
      <ListView list={list} what="the audit log">
        <table data-testid="audit">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>Action</th>
              <th>Target</th>
              <th>Outcome</th>
              <th>From</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((a) => (
              <tr key={a.id} className="clickable" onClick={() => setOpen(open === a.id ? null : a.id)}>
                <td>
                  <Time at={a.created_at} />
                  {open === a.id && <Json value={a.details} />}
                </td>
                <td>{a.actor_name ?? a.actor_type}</td>
                <td>{a.action}</td>
                <td className="small">
                  {a.target_type} {a.target_id?.slice(0, 8)}
                </td>
                <td>
                  <Badge value={a.outcome === 'success' ? 'succeeded' : 'failed'} />
                </td>
                <td className="small">{a.ip}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </ListView>
    </Page>
  );
}

function Forbidden() {
  return (
    <p className="error" role="alert">
      This page is for admins.
    </p>
  );
}
