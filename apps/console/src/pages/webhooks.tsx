import { type FormEvent, Fragment, useState } from 'react';
import { type Schemas, api, call, session } from '../api';
import { BODY_FORMATS, SIGNATURE_FORMATS } from '../api/enums';
import { StackedBars, hourSlots } from '../charts';
import { type Setting, SettingsFields, settingValues, settingsBody } from '../settings';
import { Link, href, navigate } from '../router';
import {
  Badge,
  Empty,
  ErrorNote,
  FormButtons,
  Json,
  ListView,
  Loading,
  Page,
  Pager,
  Panel,
  ShownOnce,
  TextField,
  Time,
  useAction,
  useLoad,
  usePaged,
} from '../ui';

type Webhook = Schemas['WebhookDto'];

export function WebhooksPage() {
  const [q, setQ] = useState('');
  const [creating, setCreating] = useState(false);
  const list = usePaged(
    (cursor) => call(api.GET('/api/webhooks', { params: { query: { cursor, limit: 50, q: q || undefined } } })),
    [q],
  );
  return (
    <Page
      title="Webhooks"
      actions={
        session.can('operator') && (
          <button type="button" className="primary" onClick={() => setCreating(true)}>
            New webhook
          </button>
        )
      }
    >
      {creating && <CreateWebhook onClose={() => setCreating(false)} />}
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label>
          Search <input defaultValue={q} onBlur={(e) => setQ(e.target.value)} placeholder="name or URL" />
        </label>
      </form>
      <ErrorNote error={list.error} />
      <ListView list={list} what="webhooks" empty="No webhook yet.">
        <table data-testid="webhooks">
          <thead>
            <tr>
              <th>Name</th>
              <th>URL</th>
              <th>Events</th>
              <th>State</th>
              <th>Last success</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((w) => (
              <tr key={w.id}>
                <td>
                  <Link to={href('webhooks', w.id)}>{w.name || '(unnamed)'}</Link>
                </td>
                <td className="small">{w.url}</td>
                <td className="small">{w.events.join(', ')}</td>
                <td>
                  <State webhook={w} />
                </td>
                <td>
                  <Time at={w.last_success_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </ListView>
    </Page>
  );
}

function State(props: { webhook: Webhook }) {
  const w = props.webhook;
  if (!w.enabled) return <Badge value="disabled" />;
  if (w.failing_since) return <Badge value="failing" tone="bad" />;
  return <Badge value="enabled" />;
}

/** What a new webhook's form starts with: the hub's defaults. */
const NEW_WEBHOOK = {
  events: ['*'],
  timeout_ms: 15000,
  signature_format: 'standard-webhooks',
  body_format: 'compact',
};

function CreateWebhook(props: { onClose: () => void }) {
  const [values, setValues] = useState(() => settingValues(SETTINGS, NEW_WEBHOOK));
  const [created, setCreated] = useState<Schemas['WebhookCreatedDto'] | null>(null);
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action
      .run(() => {
        // Empty optional settings are left to the hub's defaults.
        const body = Object.fromEntries(
          Object.entries(settingsBody(SETTINGS, values)).filter(([, v]) => v !== null && v !== ''),
        );
        return call(api.POST('/api/webhooks', { body: body as Schemas['CreateWebhookDto'] }));
      })
      .then((w) => w && setCreated(w));
  };
  if (created) {
    return (
      <ShownOnce
        label="Signing secret"
        value={created.secret}
        onDone={() => {
          props.onClose();
          navigate(href('webhooks', created.id));
        }}
      />
    );
  }
  return (
    <Panel title="New webhook">
      <form onSubmit={submit} aria-label="New webhook">
        <SettingsFields settings={SETTINGS} values={values} onChange={setValues} error={action.error} />
        <ErrorNote error={action.error} />
        <FormButtons busy={action.busy} submit="Create" onCancel={props.onClose} />
      </form>
    </Panel>
  );
}

export function WebhookPage(props: { id: string }) {
  const id = props.id;
  const webhook = useLoad(() => call(api.GET('/api/webhooks/{id}', { params: { path: { id } } })), [id]);
  const [tab, setTab] = useState<'logs' | 'deliveries' | 'settings'>('logs');
  const [logsVersion, setLogsVersion] = useState(0);
  const action = useAction();
  const [tested, setTested] = useState<Schemas['WebhookTestResultDto'] | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const w = webhook.data;
  if (!w) return <Page title="Webhook">{webhook.loading ? <Loading /> : <ErrorNote error={webhook.error} />}</Page>;
  const canWrite = session.can('operator');
  const path = { params: { path: { id } } };
  const after = () => {
    webhook.reload();
    setLogsVersion((v) => v + 1);
  };

  return (
    <Page
      title={`Webhook: ${w.name || w.url}`}
      actions={
        canWrite && (
          <>
            <button
              type="button"
              disabled={action.busy}
              onClick={() =>
                void action
                  .run(() => call(api.POST('/api/webhooks/{id}/test', path)))
                  .then((r) => {
                    if (r) setTested(r);
                    after();
                  })
              }
            >
              Send a test event
            </button>
            <button
              type="button"
              disabled={action.busy}
              onClick={() =>
                void action.run(() => call(api.POST('/api/webhooks/{id}/toggle', path))).then((r) => r && after())
              }
            >
              {w.enabled ? 'Disable' : 'Enable'}
            </button>
            <button
              type="button"
              disabled={action.busy}
              onClick={() =>
                void action
                  .run(() => call(api.POST('/api/webhooks/{id}/secret/rotate', { ...path, body: {} })))
                  .then((r) => {
                    if (r) setSecret(r.secret);
                    webhook.reload();
                  })
              }
            >
              Rotate secret
            </button>
            <button
              type="button"
              className="danger"
              disabled={action.busy}
              onClick={() => {
                if (!confirm(`Delete the webhook ${w.name || w.url}? Its pending deliveries are dropped.`)) return;
                void action
                  .run(() => call(api.DELETE('/api/webhooks/{id}', path)))
                  .then((r) => r !== undefined && navigate(href('webhooks')));
              }}
            >
              Delete
            </button>
          </>
        )
      }
    >
      <ErrorNote error={action.error} />
      {secret && <ShownOnce label="New signing secret" value={secret} onDone={() => setSecret(null)} />}
      {tested && (
        <Panel title="Test attempt">
          <p data-testid="test-result">
            <Badge value={tested.attempt.success ? 'succeeded' : 'failed'} /> HTTP {tested.attempt.status_code ?? '–'}{' '}
            in {tested.attempt.duration_ms} ms {tested.attempt.error}
          </p>
          <button type="button" onClick={() => setTested(null)}>
            Close
          </button>
        </Panel>
      )}
      <dl className="facts">
        <dt>URL</dt>
        <dd>{w.url}</dd>
        <dt>State</dt>
        <dd>
          <State webhook={w} /> {w.disabled_reason}
          {w.failing_since && (
            <>
              {' '}
              failing since <Time at={w.failing_since} />: {w.last_error}
            </>
          )}
        </dd>
        <dt>Events</dt>
        <dd>{w.events.join(', ')}</dd>
        <dt>Signature</dt>
        <dd>
          {w.signature_format}, {w.secrets.length} secret{w.secrets.length === 1 ? '' : 's'}
          {w.secrets.some((s) => s.expires_at) && ' (a previous one still valid for a while)'}
        </dd>
        <dt>Limits</dt>
        <dd>
          timeout {w.timeout_ms} ms, {w.max_in_flight ?? 'default'} in flight, {w.max_per_second ?? 'no'} per second
          cap, retries {w.retry_enabled ? w.retry_schedule.join(', ') + ' s' : 'off'}
        </dd>
      </dl>
      <WebhookStats id={id} version={logsVersion} />
      <div className="tabs" role="tablist">
        {(['logs', 'deliveries', 'settings'] as const).map((t) => (
          <button key={t} role="tab" type="button" aria-selected={tab === t} onClick={() => setTab(t)}>
            {t === 'logs' ? 'Attempt log' : t === 'deliveries' ? 'Deliveries' : 'Settings'}
          </button>
        ))}
      </div>
      {tab === 'logs' && <AttemptLog id={id} version={logsVersion} />}
      {tab === 'deliveries' && <Deliveries id={id} canWrite={canWrite} onChange={after} />}
      {tab === 'settings' && <WebhookSettings webhook={w} canWrite={canWrite} onSaved={after} />}
    </Page>
  );
}

function WebhookStats(props: { id: string; version: number }) {
  const stats = useLoad(
    () => call(api.GET('/api/webhooks/{id}/stats', { params: { path: { id: props.id } } })),
    [props.id, props.version],
  );
  const s = stats.data;
  if (!s) return stats.error ? <ErrorNote error={stats.error} /> : null;
  const bars = hourSlots(s.from, s.to).map((slot) => {
    const p = s.periods.find((x) => x.start === slot.key);
    return {
      label: slot.label,
      values: { ok: p?.attempts_succeeded ?? 0, failed: (p?.attempts ?? 0) - (p?.attempts_succeeded ?? 0) },
    };
  });
  return (
    <div className="grid2">
      <Panel>
        <StackedBars
          title="Attempts per hour, last 24 h"
          series={[
            { key: 'ok', label: 'succeeded', tone: 'c-good' },
            { key: 'failed', label: 'failed', tone: 'c-bad' },
          ]}
          bars={bars}
        />
      </Panel>
      <Panel title="Last 24 hours">
        <dl className="facts" data-testid="webhook-stats">
          <dt>Deliveries</dt>
          <dd>
            {s.total} ({s.succeeded} succeeded, {s.failed} failed, {s.pending} pending)
          </dd>
          <dt>Success rate</dt>
          <dd>{s.success_rate == null ? '–' : `${(s.success_rate * 100).toFixed(1)}%`}</dd>
          <dt>Attempts</dt>
          <dd>
            {s.attempts} ({s.attempts_succeeded} succeeded)
          </dd>
          <dt>Duration p50 / p95</dt>
          <dd>{s.p50_ms == null ? '–' : `${s.p50_ms} / ${s.p95_ms} ms`}</dd>
        </dl>
      </Panel>
    </div>
  );
}

function AttemptLog(props: { id: string; version: number }) {
  const [success, setSuccess] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const list = usePaged(
    (cursor) =>
      call(
        api.GET('/api/webhooks/{id}/logs', {
          params: {
            path: { id: props.id },
            query: { cursor, limit: 50, success: success === '' ? undefined : success === 'true' },
          },
        }),
      ),
    [props.id, props.version, success],
  );
  return (
    <Panel>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Attempt filters">
        <label>
          Outcome{' '}
          <select value={success} onChange={(e) => setSuccess(e.target.value)}>
            <option value="">any</option>
            <option value="true">succeeded</option>
            <option value="false">failed</option>
          </select>
        </label>
      </form>
      <ErrorNote error={list.error} />
      {list.items.length === 0 && !list.loading ? (
        <Empty>No attempt yet.</Empty>
      ) : (
        <table data-testid="attempts">
          <thead>
            <tr>
              <th>When</th>
              <th>Event type</th>
              <th>Attempt</th>
              <th>Outcome</th>
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((a) => (
              <Fragment key={a.id}>
                <tr onClick={() => setOpen(open === a.id ? null : a.id)} className="clickable">
                  <td>
                    <button type="button" className="link" aria-expanded={open === a.id}>
                      <Time at={a.created_at} />
                    </button>
                  </td>
                  <td>{a.event_type}</td>
                  <td>
                    #{a.attempt} ({a.trigger})
                  </td>
                  <td>
                    <Badge value={a.success ? 'succeeded' : 'failed'} /> {a.status_code ?? ''} {a.error}
                  </td>
                  <td>{a.duration_ms} ms</td>
                </tr>
                {open === a.id && (
                  <tr>
                    <td colSpan={5}>
                      <div className="grid2">
                        <div>
                          <h3>Request headers</h3>
                          <Json value={a.request_headers} />
                        </div>
                        <div>
                          <h3>Response {a.response_truncated ? '(truncated)' : ''}</h3>
                          <Json value={a.response_headers} />
                          <pre className="code">{a.response_body}</pre>
                        </div>
                      </div>
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
      <Pager total={list.total} shown={list.items.length} next={list.next} onMore={list.more} />
    </Panel>
  );
}

function Deliveries(props: { id: string; canWrite: boolean; onChange: () => void }) {
  const list = usePaged(
    (cursor) =>
      call(
        api.GET('/api/webhooks/{id}/deliveries', { params: { path: { id: props.id }, query: { cursor, limit: 50 } } }),
      ),
    [props.id],
  );
  const action = useAction();
  const [from, setFrom] = useState('');
  const [recovered, setRecovered] = useState<number | null>(null);
  return (
    <Panel>
      <ErrorNote error={action.error ?? list.error} />
      {props.canWrite && (
        <form
          className="filters"
          aria-label="Recover"
          onSubmit={(e) => {
            e.preventDefault();
            void action
              .run(() =>
                call(
                  api.POST('/api/webhooks/{id}/recover', {
                    params: { path: { id: props.id } },
                    body: { from: from ? new Date(from).toISOString() : '' },
                  }),
                ),
              )
              .then((r) => {
                if (!r) return;
                setRecovered(r.requeued);
                list.reload();
                props.onChange();
              });
          }}
        >
          <label>
            Send failed deliveries again, since{' '}
            <input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
          </label>
          <button type="submit" disabled={action.busy}>
            Recover
          </button>
          {recovered != null && <span role="status">{recovered} queued again</span>}
        </form>
      )}
      <table data-testid="deliveries">
        <thead>
          <tr>
            <th>Created</th>
            <th>Event type</th>
            <th>Status</th>
            <th>Attempts</th>
            <th>Last answer</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.items.map((d) => (
            <tr key={d.id}>
              <td>
                <Link to={href('events', d.event_id)}>
                  <Time at={d.created_at} />
                </Link>
              </td>
              <td>{d.event_type}</td>
              <td>
                <Badge value={d.status} />
              </td>
              <td>{d.attempts}</td>
              <td>
                {d.last_status ?? ''} {d.last_error}
              </td>
              <td>
                {props.canWrite && d.finished_at && (
                  <button
                    type="button"
                    onClick={() =>
                      void action
                        .run(() =>
                          call(
                            api.POST('/api/webhooks/{id}/deliveries/{deliveryId}/resend', {
                              params: { path: { id: props.id, deliveryId: d.id } },
                            }),
                          ),
                        )
                        .then((r) => r && list.reload())
                    }
                  >
                    Resend
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager total={list.total} shown={list.items.length} next={list.next} onMore={list.more} />
    </Panel>
  );
}

/** The webhook settings the form edits (custom header values are secrets: set or removed below, never shown). */
const SETTINGS: ReadonlyArray<Setting<keyof Schemas['PatchWebhookDto']>> = [
  { name: 'name', label: 'Name', kind: 'text' },
  { name: 'description', label: 'Description', kind: 'text' },
  { name: 'url', label: 'URL', kind: 'text' },
  { name: 'events', label: 'Event types', kind: 'list', hint: 'Comma-separated: names, prefix.* or *' },
  {
    name: 'payload_filter',
    label: 'Payload filter',
    kind: 'json?',
    hint: 'A condition on the event, e.g. {"path": "data.plan", "eq": "pro"}; empty: every event of those types',
  },
  { name: 'timeout_ms', label: 'Timeout (ms)', kind: 'number' },
  {
    name: 'retry_schedule',
    label: 'Retry schedule (seconds)',
    kind: 'numbers?',
    hint: 'e.g. 5, 300, 1800; empty: the default',
  },
  { name: 'max_in_flight', label: 'Requests in flight at most', kind: 'number?', hint: 'empty: the default' },
  { name: 'max_per_second', label: 'Requests per second at most', kind: 'number?', hint: 'empty: no limit' },
  { name: 'signature_format', label: 'Signature format', kind: 'select', options: SIGNATURE_FORMATS },
  { name: 'body_format', label: 'Body format', kind: 'select', options: BODY_FORMATS },
];

function WebhookSettings(props: { webhook: Webhook; canWrite: boolean; onSaved: () => void }) {
  const w = props.webhook;
  const [values, setValues] = useState(() => settingValues(SETTINGS, w));
  const [headerName, setHeaderName] = useState('');
  const [headerValue, setHeaderValue] = useState('');
  const action = useAction();
  const [saved, setSaved] = useState(false);
  const patch = (body: Schemas['PatchWebhookDto']) =>
    void action
      .run(() => call(api.PATCH('/api/webhooks/{id}', { params: { path: { id: w.id } }, body })))
      .then((r) => {
        if (!r) return;
        setSaved(true);
        props.onSaved();
      });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    const headers = headerName.trim() ? { headers: { [headerName.trim()]: headerValue } } : {};
    void action
      .run(async () => settingsBody(SETTINGS, values) as Schemas['PatchWebhookDto'])
      .then((body) => {
        if (!body) return;
        patch({ ...body, ...headers });
        setHeaderName('');
        setHeaderValue('');
      });
  };
  const ro = !props.canWrite;
  return (
    <Panel>
      <form onSubmit={submit} aria-label="Webhook settings">
        <fieldset disabled={ro}>
          <SettingsFields settings={SETTINGS} values={values} onChange={setValues} error={action.error} />
          <div className="field" data-field="headers">
            <span>Custom headers (values are secrets: write-only)</span>
            {w.header_names.length === 0 ? (
              <span className="muted small">none</span>
            ) : (
              <ul className="plain">
                {w.header_names.map((h) => (
                  <li key={h}>
                    <code>{h}</code>{' '}
                    {props.canWrite && (
                      <button type="button" onClick={() => patch({ headers: { [h]: null } })}>
                        Remove {h}
                      </button>
                    )}
                  </li>
                ))}
              </ul>
            )}
            {props.canWrite && (
              <div className="row">
                <TextField label="Header name" name="headers" value={headerName} onChange={setHeaderName} />
                <TextField
                  label="Header value"
                  name="headers"
                  type="password"
                  autoComplete="off"
                  value={headerValue}
                  onChange={setHeaderValue}
                />
              </div>
            )}
          </div>
        </fieldset>
        <ErrorNote error={action.error} />
        {props.canWrite && (
          <button type="submit" className="primary" disabled={action.busy}>
            Save
          </button>
        )}
        {saved && <span role="status"> Saved.</span>}
      </form>
    </Panel>
  );
}
