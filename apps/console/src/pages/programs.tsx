import { type FormEvent, useState } from 'react';
import { type Schemas, api, call, session } from '../api';
import { Link, href, navigate } from '../router';
import {
  Badge,
  ErrorNote,
  Field,
  FormButtons,
  ListView,
  Page,
  Panel,
  TextArea,
  TextField,
  parseJson,
  useAction,
  usePaged,
} from '../ui';

type Program = Schemas['ProgramDto'];

export function ProgramsPage() {
  const [editing, setEditing] = useState<Program | 'new' | null>(null);
  const [running, setRunning] = useState<string | null>(null);
  const list = usePaged((cursor) => call(api.GET('/api/programs', { params: { query: { cursor, limit: 50 } } })), []);
  const action = useAction();
  const isAdmin = session.can('admin');
  return (
    <Page
      title="Programs"
      actions={
        isAdmin && (
          <button type="button" className="primary" onClick={() => setEditing('new')}>
            New program
          </button>
        )
      }
    >
      {editing != null && (
        <ProgramForm
          program={editing === 'new' ? null : editing}
          onDone={(changed) => {
            setEditing(null);
            if (changed) list.reload();
          }}
        />
      )}
      {running && <RunForm programId={running} onClose={() => setRunning(null)} />}
      <ErrorNote error={action.error ?? list.error} />
      <ListView list={list} what="programs" empty="No program yet: an admin registers the executables rules may run.">
        <table data-testid="programs">
          <thead>
            <tr>
              <th>#</th>
              <th>Name</th>
              <th>Command</th>
              <th>Queue</th>
              <th>Limits</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.items.map((p) => (
              <tr key={p.id}>
                <td>{p.number}</td>
                <td>
                  <Link to={href('tasks', { program_id: p.id })} title="Its task runs">
                    {p.name}
                  </Link>
                  {p.description && <div className="muted small">{p.description}</div>}
                </td>
                <td>
                  <code className="small">{[p.command, ...p.args.map((a) => JSON.stringify(a))].join(' ')}</code>
                </td>
                <td>{p.queue}</td>
                <td className="small">
                  {p.timeout_seconds} s, {p.concurrency_limit ?? 'any'} at once
                  {p.concurrency_key && `, per ${p.concurrency_key} (${p.concurrency_policy})`}
                </td>
                <td>
                  <Badge value={p.enabled ? 'enabled' : 'disabled'} />
                </td>
                <td>
                  {session.can('operator') && p.manual_run && p.enabled && (
                    <button type="button" onClick={() => setRunning(running === p.id ? null : p.id)}>
                      Run now
                    </button>
                  )}
                  {isAdmin && (
                    <>
                      <button type="button" onClick={() => setEditing(p)}>
                        Edit
                      </button>
                      <button
                        type="button"
                        className="danger"
                        onClick={() => {
                          if (!confirm(`Delete the program ${p.name}? Rules that run it must go first.`)) return;
                          void action
                            .run(() => call(api.DELETE('/api/programs/{id}', { params: { path: { id: p.id } } })))
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

/** Runs a program by hand with a payload its argument templates read as `payload.*`. */
function RunForm(props: { programId: string; onClose: () => void }) {
  const [payload, setPayload] = useState('{}');
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action
      .run(() =>
        call(
          api.POST('/api/programs/{id}/run', {
            params: { path: { id: props.programId } },
            body: { payload: parseJson<Record<string, unknown>>(payload, 'The payload') },
          }),
        ),
      )
      .then((r) => r && navigate(href('tasks', r.id)));
  };
  return (
    <Panel title="Run by hand">
      <form onSubmit={submit} aria-label="Run by hand">
        <TextArea
          label="Payload (JSON object)"
          name="payload"
          error={action.error}
          rows={4}
          value={payload}
          onChange={setPayload}
        />
        <ErrorNote error={action.error} />
        <FormButtons busy={action.busy} submit="Run" onCancel={props.onClose} />
      </form>
    </Panel>
  );
}

function ProgramForm(props: { program: Program | null; onDone: (changed: boolean) => void }) {
  const p = props.program;
  const [name, setName] = useState(p?.name ?? '');
  const [command, setCommand] = useState(p?.command ?? '');
  const [args, setArgs] = useState(JSON.stringify(p?.args ?? [], null, 2));
  const [timeout, setTimeoutS] = useState(String(p?.timeout_seconds ?? 300));
  const [queue, setQueue] = useState(p?.queue ?? 'default');
  const [manualRun, setManualRun] = useState(p?.manual_run ?? false);
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action
      .run(async () => {
        const parsedArgs = parseJson<Program['args']>(args, 'The arguments');
        const body = {
          name,
          command,
          args: parsedArgs,
          timeout_seconds: Number(timeout),
          queue,
          manual_run: manualRun,
        };
        return p
          ? call(api.PATCH('/api/programs/{id}', { params: { path: { id: p.id } }, body }))
          : call(api.POST('/api/programs', { body }));
      })
      .then((r) => r && props.onDone(true));
  };
  return (
    <Panel title={p ? `Edit program ${p.name}` : 'New program'}>
      <form onSubmit={submit} aria-label={p ? 'Edit program' : 'New program'}>
        <TextField label="Name" name="name" error={action.error} value={name} onChange={setName} required />
        <Field
          label="Command"
          name="command"
          error={action.error}
          hint="An absolute path inside HOOKHUB_PROGRAM_DIRS, or allowed by HOOKHUB_PROGRAM_ALLOW; run without a shell"
        >
          {(id, d) => (
            <input id={id} aria-describedby={d} value={command} onChange={(e) => setCommand(e.target.value)} required />
          )}
        </Field>
        <TextArea
          label="Arguments"
          name="args"
          error={action.error}
          hint='JSON list, e.g. ["--verbose", "{{body.ref}}"]'
          rows={3}
          value={args}
          onChange={setArgs}
        />
        <TextField
          label="Timeout (seconds)"
          name="timeout_seconds"
          error={action.error}
          inputMode="numeric"
          value={timeout}
          onChange={setTimeoutS}
        />
        <TextField
          label="Queue"
          name="queue"
          error={action.error}
          hint="Workers take the queues in HOOKHUB_WORKER_QUEUES"
          value={queue}
          onChange={setQueue}
        />
        <Field label="May be run by hand" name="manual_run" error={action.error}>
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              type="checkbox"
              checked={manualRun}
              onChange={(e) => setManualRun(e.target.checked)}
            />
          )}
        </Field>
        <ErrorNote error={action.error} />
        <FormButtons busy={action.busy} submit={p ? 'Save' : 'Create'} onCancel={() => props.onDone(false)} />
      </form>
    </Panel>
  );
}
