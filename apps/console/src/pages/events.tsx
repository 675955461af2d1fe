import { type FormEvent, useState } from 'react';
import { type Schemas, api, call, session } from '../api';
import { Link, href, navigate } from '../router';
import {
  Badge,
  Empty,
  ErrorNote,
  Field,
  FormButtons,
  Json,
  ListView,
  Loading,
  Page,
  Panel,
  TextArea,
  TextField,
  Time,
  parseJson,
  useAction,
  useLoad,
  usePaged,
} from '../ui';

type EventType = Schemas['EventTypeDto'];

export function EventTypesPage() {
  const [editing, setEditing] = useState<EventType | 'new' | null>(null);
  const [archived, setArchived] = useState(false);
  const list = usePaged(
    (cursor) =>
      call(api.GET('/api/event-types', { params: { query: { cursor, limit: 50, include_archived: archived } } })),
    [archived],
  );
  const canWrite = session.can('operator');
  const remove = useAction();
  return (
    <Page
      title="Event types"
      actions={
        canWrite && (
          <button type="button" className="primary" onClick={() => setEditing('new')}>
            New event type
          </button>
        )
      }
    >
      {editing != null && (
        <EventTypeForm
          type={editing === 'new' ? null : editing}
          onDone={(changed) => {
            setEditing(null);
            if (changed) list.reload();
          }}
        />
      )}
      <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          <input type="checkbox" checked={archived} onChange={(e) => setArchived(e.target.checked)} /> Show archived
        </label>
      </form>
      <ErrorNote error={remove.error ?? list.error} />
      <ListView list={list} what="event types" empty="No event type yet.">
        <table data-testid="event-types">
          <thead>
            <tr>
              <th>Name</th>
              <th>Description</th>
              <th>Schema</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.items.map((t) => (
              <tr key={t.id}>
                <td>
                  <Link to={href('events', { type: t.name })}>{t.name}</Link>
                  {t.builtin && <Badge value="built-in" tone="muted" />}
                  {t.archived && <Badge value="archived" tone="muted" />}
                </td>
                <td>{t.description}</td>
                <td>{t.schema ? 'validated' : <span className="muted">any JSON object</span>}</td>
                <td>
                  {canWrite && !t.builtin && (
                    <>
                      <button type="button" onClick={() => setEditing(t)}>
                        Edit
                      </button>
                      <button
                        type="button"
                        className="danger"
                        onClick={() => {
                          if (!confirm(`Delete the event type ${t.name}? Archive it instead to keep its history.`))
                            return;
                          void remove
                            .run(() => call(api.DELETE('/api/event-types/{id}', { params: { path: { id: t.id } } })))
                            .then((r) => r !== undefined && list.reload());
                        }}
                      >
                        Delete
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </ListView>
    </Page>
  );
}

function EventTypeForm(props: { type: EventType | null; onDone: (changed: boolean) => void }) {
  const t = props.type;
  const [name, setName] = useState(t?.name ?? '');
  const [description, setDescription] = useState(t?.description ?? '');
  const [schema, setSchema] = useState(t?.schema ? JSON.stringify(t.schema, null, 2) : '');
  const [archived, setArchived] = useState(t?.archived ?? false);
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action
      .run(async () => {
        const parsed = schema.trim() ? parseJson<Record<string, unknown>>(schema, 'The schema') : null;
        return t
          ? call(
              api.PATCH('/api/event-types/{id}', {
                params: { path: { id: t.id } },
                body: { description, schema: parsed, archived },
              }),
            )
          : call(api.POST('/api/event-types', { body: { name, description, schema: parsed } }));
      })
      .then((r) => r && props.onDone(true));
  };
  return (
    <Panel title={t ? `Edit ${t.name}` : 'New event type'}>
      <form onSubmit={submit} aria-label={t ? 'Edit event type' : 'New event type'}>
        {!t && (
          <TextField
            label="Name"
            name="name"
            error={action.error}
            hint="Dotted, e.g. order.created"
            value={name}
            onChange={setName}
            required
          />
        )}
        <TextField
          label="Description"
          name="description"
          error={action.error}
          value={description}
          onChange={setDescription}
        />
        <TextArea
          label="JSON Schema of its data (optional)"
          name="schema"
          error={action.error}
          rows={6}
          value={schema}
          onChange={setSchema}
        />
        {t && (
          <label>
            <input type="checkbox" checked={archived} onChange={(e) => setArchived(e.target.checked)} /> Archived (no
            new events)
          </label>
        )}
        <ErrorNote error={action.error} />
        <FormButtons busy={action.busy} submit={t ? 'Save' : 'Create'} onCancel={() => props.onDone(false)} />
      </form>
    </Panel>
  );
}

export function EventsPage() {
  const [type, setType] = useState(new URLSearchParams(location.hash.split('?')[1] ?? '').get('type') ?? '');
  const [publishing, setPublishing] = useState(false);
  const list = usePaged(
    (cursor) => call(api.GET('/api/events', { params: { query: { cursor, limit: 50, type: type || undefined } } })),
    [type],
  );
  return (
    <Page
      title="Events"
      actions={
        session.can('operator') && (
          <button type="button" className="primary" onClick={() => setPublishing(true)}>
            Publish an event
          </button>
        )
      }
    >
      {publishing && <PublishForm onClose={() => setPublishing(false)} />}
      <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Type <input defaultValue={type} onBlur={(e) => setType(e.target.value)} placeholder="order.created" />
        </label>
      </form>
      <ErrorNote error={list.error} />
      <ListView list={list} what="events" empty="No event published yet.">
        <table data-testid="events">
          <thead>
            <tr>
              <th>Published</th>
              <th>Type</th>
              <th>Deliveries</th>
              <th>Size</th>
              <th>By</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((e) => (
              <tr key={e.id}>
                <td>
                  <Link to={href('events', e.id)}>
                    <Time at={e.created_at} />
                  </Link>
                </td>
                <td>{e.type}</td>
                <td>{e.delivery_count}</td>
                <td>{e.bytes} B</td>
                <td>{e.published_by ?? '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </ListView>
    </Page>
  );
}

function PublishForm(props: { onClose: () => void }) {
  const types = useLoad(() => call(api.GET('/api/event-types', { params: { query: { limit: 200 } } })), []);
  const [type, setType] = useState('');
  const [data, setData] = useState('{\n  \n}');
  const [problem, setProblem] = useState<string | null>(null);
  const action = useAction();
  const check = (text: string) => {
    setData(text);
    try {
      const v: unknown = JSON.parse(text);
      setProblem(typeof v === 'object' && v != null && !Array.isArray(v) ? null : 'The data must be a JSON object');
    } catch (err) {
      setProblem(err instanceof Error ? err.message : String(err));
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action
      .run(() => call(api.POST('/api/events', { body: { type, data: JSON.parse(data) as Record<string, unknown> } })))
      .then((r) => {
        if (!r) return;
        props.onClose();
        navigate(href('events', r.id));
      });
  };
  return (
    <Panel title="Publish an event">
      <form onSubmit={submit} aria-label="Publish an event">
        <Field label="Type" name="type" error={action.error}>
          {(id, d) => (
            <select id={id} aria-describedby={d} value={type} onChange={(e) => setType(e.target.value)} required>
              <option value="">choose…</option>
              {(types.data?.items ?? [])
                .filter((t) => !t.archived)
                .map((t) => (
                  <option key={t.id}>{t.name}</option>
                ))}
            </select>
          )}
        </Field>
        <TextArea
          label="Data (JSON object)"
          name="data"
          error={action.error}
          hint={problem ?? undefined}
          aria-invalid={problem != null}
          rows={8}
          value={data}
          onChange={check}
        />
        <ErrorNote error={action.error} />
        <FormButtons busy={action.busy} submit="Publish" onCancel={props.onClose} disabled={problem != null} />
      </form>
    </Panel>
  );
}

export function EventPage(props: { id: string }) {
  const event = useLoad(() => call(api.GET('/api/events/{id}', { params: { path: { id: props.id } } })), [props.id]);
  const e = event.data;
  if (!e) return <Page title="Event">{event.loading ? <Loading /> : <ErrorNote error={event.error} />}</Page>;
  return (
    <Page title={`Event: ${e.type}`} actions={<button onClick={event.reload}>Refresh</button>}>
      <dl className="facts">
        <dt>Id</dt>
        <dd>
          <code>{e.id}</code>
        </dd>
        <dt>Occurred / published</dt>
        <dd>
          <Time at={e.occurred_at} /> / <Time at={e.created_at} />
          {e.published_by && ` by ${e.published_by}`}
        </dd>
        <dt>Idempotency key</dt>
        <dd>{e.idempotency_key ?? '–'}</dd>
      </dl>
      <div className="grid2">
        <Panel title="Data">
          <Json value={e.data} />
        </Panel>
        <Panel title={`Deliveries (${e.deliveries.length})`}>
          {e.deliveries.length === 0 ? (
            <Empty>No webhook takes this type.</Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>Webhook</th>
                  <th>Status</th>
                  <th>Attempts</th>
                  <th>Last answer</th>
                </tr>
              </thead>
              <tbody>
                {e.deliveries.map((d) => (
                  <tr key={d.id}>
                    <td>
                      <Link to={href('webhooks', d.webhook_id)}>{d.webhook_id.slice(0, 8)}</Link>
                    </td>
                    <td>
                      <Badge value={d.status} />
                    </td>
                    <td>{d.attempts}</td>
                    <td>
                      {d.last_status ?? ''} {d.last_error}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Panel>
      </div>
    </Page>
  );
}
