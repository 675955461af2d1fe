import { useEffect, useRef, useState } from 'react';
import { api, call, session } from '../api';
import { Link, href, navigate } from '../router';
import { readSse } from '../sse';
import { Badge, ErrorNote, ListView, Loading, Page, Panel, Time, useAction, useLoad, usePaged } from '../ui';

const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'canceled'] as const;
type Status = (typeof STATUSES)[number];
const FINAL = new Set(['succeeded', 'failed', 'timed_out', 'canceled']);

export function TaskRunsPage(props: { query: URLSearchParams }) {
  const q = props.query;
  const filters = {
    status: q.get('status') ?? '',
    program_id: q.get('program_id') ?? '',
    queue: q.get('queue') ?? '',
    receipt_id: q.get('receipt_id') ?? '',
  };
  const programs = useLoad(() => call(api.GET('/api/programs', { params: { query: { limit: 200 } } })), []);
  const list = usePaged(
    (cursor) =>
      call(
        api.GET('/api/tasks', {
          params: {
            query: {
              cursor,
              limit: 50,
              status: (filters.status || undefined) as Status | undefined,
              program_id: filters.program_id || undefined,
              queue: filters.queue || undefined,
              receipt_id: filters.receipt_id || undefined,
            },
          },
        }),
      ),
    [q.toString()],
  );
  const set = (name: string, value: string) => navigate(href('tasks', { ...filters, [name]: value }));

  return (
    <Page title="Task runs" actions={<button onClick={list.reload}>Refresh</button>}>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label>
          Status{' '}
          <select value={filters.status} onChange={(e) => set('status', e.target.value)}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Program{' '}
          <select value={filters.program_id} onChange={(e) => set('program_id', e.target.value)}>
            <option value="">any</option>
            {(programs.data?.items ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Queue{' '}
          <input defaultValue={filters.queue} onBlur={(e) => set('queue', e.target.value)} placeholder="default" />
        </label>
      </form>
      <ErrorNote error={list.error} />
      <ListView list={list} what="task runs" empty="No task run matches.">
        <table data-testid="task-runs">
          <thead>
            <tr>
              <th>Created</th>
              <th>Program</th>
              <th>Status</th>
              <th>Trigger</th>
              <th>Queue</th>
              <th>Worker</th>
              <th>Exit</th>
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((t) => (
              <tr key={t.id}>
                <td>
                  <Link to={href('tasks', t.id)}>
                    <Time at={t.created_at} />
                  </Link>
                </td>
                <td>{t.program_name}</td>
                <td>
                  <Badge value={t.status} />
                </td>
                <td>{t.trigger}</td>
                <td>{t.queue}</td>
                <td>{t.worker_hostname ?? <span className="muted">–</span>}</td>
                <td>{t.exit_code ?? t.signal ?? '–'}</td>
                <td>{t.duration_ms == null ? '–' : `${t.duration_ms} ms`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </ListView>
    </Page>
  );
}

interface Output {
  stdout: string;
  stderr: string;
  notes: string[];
  live: boolean;
}

/** The run's output: what the detail held, then what the SSE stream adds while it runs. */
function useLiveOutput(id: string, initial: { stdout: string; stderr: string } | undefined, final: boolean) {
  const [output, setOutput] = useState<Output>({ stdout: '', stderr: '', notes: [], live: false });
  const [ended, setEnded] = useState(0);
  const started = useRef<string | null>(null);
  useEffect(() => {
    if (!initial || started.current === id) return;
    started.current = id;
    if (final) {
      setOutput({ stdout: initial.stdout, stderr: initial.stderr, notes: [], live: false });
      return;
    }
    // The stream starts from the first byte, so it replaces the detail's snapshot.
    setOutput({ stdout: '', stderr: '', notes: [], live: true });
    const abort = new AbortController();
    readSse(
      `/api/tasks/${encodeURIComponent(id)}/output`,
      (e) => {
        if (e.type === 'stdout' || e.type === 'stderr') {
          const stream = e.type;
          setOutput((o) => ({ ...o, [stream]: o[stream] + e.data }));
        } else if (e.type === 'truncated') {
          const t = JSON.parse(e.data) as { stream: string; skipped_bytes: number };
          setOutput((o) => ({ ...o, notes: [...o.notes, `${t.skipped_bytes} bytes of ${t.stream} skipped`] }));
        } else if (e.type === 'end') {
          setOutput((o) => ({ ...o, live: false }));
          setEnded((n) => n + 1);
        }
      },
      abort.signal,
    )
      .catch((err: unknown) => {
        if (!abort.signal.aborted)
          setOutput((o) => ({ ...o, notes: [...o.notes, err instanceof Error ? err.message : String(err)] }));
      })
      .finally(() => setOutput((o) => ({ ...o, live: false })));
    return () => {
      abort.abort();
      started.current = null;
    };
  }, [id, initial, final]);
  return { output, ended };
}

export function TaskRunPage(props: { id: string }) {
  const run = useLoad(() => call(api.GET('/api/tasks/{id}', { params: { path: { id: props.id } } })), [props.id]);
  const t = run.data;
  const { output, ended } = useLiveOutput(props.id, t, !!t && FINAL.has(t.status));
  const action = useAction();
  const reload = run.reload;
  useEffect(() => {
    if (ended) reload();
  }, [ended, reload]);

  if (!t) return <Page title="Task run">{run.loading ? <Loading /> : <ErrorNote error={run.error} />}</Page>;
  const canRun = session.can('operator');
  const finished = FINAL.has(t.status);
  return (
    <Page
      title={`Task run: ${t.program_name}`}
      actions={
        canRun && (
          <>
            {!finished && (
              <button
                type="button"
                disabled={action.busy}
                onClick={() =>
                  void action
                    .run(() => call(api.POST('/api/tasks/{id}/cancel', { params: { path: { id: t.id } } })))
                    .then((r) => r && reload())
                }
              >
                Cancel
              </button>
            )}
            {finished && (
              <button
                type="button"
                disabled={action.busy}
                onClick={() =>
                  void action
                    .run(() => call(api.POST('/api/tasks/{id}/retry', { params: { path: { id: t.id } } })))
                    .then((r) => r && navigate(href('tasks', r.id)))
                }
              >
                Retry
              </button>
            )}
          </>
        )
      }
    >
      <ErrorNote error={action.error} />
      <dl className="facts">
        <dt>Status</dt>
        <dd data-testid="run-status">
          <Badge value={t.status} /> {t.error}
        </dd>
        <dt>Exit</dt>
        <dd>
          {t.exit_code ?? '–'}
          {t.signal ? ` (signal ${t.signal})` : ''}
        </dd>
        <dt>Arguments</dt>
        <dd>
          <code>{t.argv.join(' ')}</code>
        </dd>
        <dt>Environment keys</dt>
        <dd>{t.env_keys.length ? t.env_keys.join(', ') : 'none'}</dd>
        <dt>Trigger</dt>
        <dd>
          {t.trigger}
          {t.receipt_id && (
            <>
              {' '}
              from <Link to={href('receipts', t.receipt_id)}>receipt {t.receipt_id.slice(0, 8)}</Link>
            </>
          )}
          {t.retry_of && (
            <>
              {' '}
              retrying <Link to={href('tasks', t.retry_of)}>{t.retry_of.slice(0, 8)}</Link>
            </>
          )}
          {t.triggered_by && ` by ${t.triggered_by}`}
        </dd>
        <dt>Attempt</dt>
        <dd>
          {t.attempt} of {t.max_attempts}
        </dd>
        <dt>Queue / worker</dt>
        <dd>
          {t.queue} / {t.worker_hostname ?? '–'} {t.worker_id && <small className="muted">({t.worker_id})</small>}
        </dd>
        <dt>Created / started / finished</dt>
        <dd>
          <Time at={t.created_at} /> / <Time at={t.started_at} /> / <Time at={t.finished_at} />
          {t.duration_ms != null && ` (${t.duration_ms} ms)`}
        </dd>
      </dl>
      <Panel title={`Output${output.live ? ' (live)' : ''}`}>
        {output.notes.map((n) => (
          <p key={n} className="muted small">
            {n}
          </p>
        ))}
        <h3>stdout</h3>
        <pre className="code output" data-testid="stdout">
          {output.stdout || (output.live ? '' : '(empty)')}
        </pre>
        <h3>stderr</h3>
        <pre className="code output" data-testid="stderr">
          {output.stderr || (output.live ? '' : '(empty)')}
        </pre>
      </Panel>
    </Page>
  );
}
