import { useState } from 'react';
import { api, call, session } from '../api';
import { Link, href, navigate } from '../router';
import {
  Badge,
  Empty,
  ErrorNote,
  Json,
  ListView,
  Loading,
  Page,
  Panel,
  Time,
  useAction,
  useLoad,
  usePaged,
} from '../ui';

const VERDICTS = ['accepted', 'unmatched', 'duplicate', 'rejected'] as const;
type Verdict = (typeof VERDICTS)[number];

/** Date-time input value (local) to an ISO instant, or undefined when empty. */
function isoOf(local: string): string | undefined {
  return local ? new Date(local).toISOString() : undefined;
}

export function ReceiptsPage(props: { query: URLSearchParams }) {
  const q = props.query;
  const filters = {
    source_id: q.get('source_id') ?? '',
    verdict: q.get('verdict') ?? '',
    event: q.get('event') ?? '',
    status_code: q.get('status_code') ?? '',
    from: q.get('from') ?? '',
    to: q.get('to') ?? '',
  };
  const sources = useLoad(() => call(api.GET('/api/sources', { params: { query: { limit: 200 } } })), []);
  const list = usePaged(
    (cursor) =>
      call(
        api.GET('/api/receipts', {
          params: {
            query: {
              cursor,
              limit: 50,
              source_id: filters.source_id || undefined,
              verdict: (filters.verdict || undefined) as Verdict | undefined,
              event: filters.event || undefined,
              status_code: filters.status_code ? Number(filters.status_code) : undefined,
              from: isoOf(filters.from),
              to: isoOf(filters.to),
            },
          },
        }),
      ),
    [q.toString()],
  );
  const set = (name: string, value: string) => navigate(href('receipts', { ...filters, [name]: value }));
  const slugOf = new Map((sources.data?.items ?? []).map((s) => [s.id, s.slug]));

  return (
    <Page title="Receipts" actions={<button onClick={list.reload}>Refresh</button>}>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label>
          Source{' '}
          <select value={filters.source_id} onChange={(e) => set('source_id', e.target.value)}>
            <option value="">any</option>
            {(sources.data?.items ?? []).map((s) => (
              <option key={s.id} value={s.id}>
                {s.slug}
              </option>
            ))}
          </select>
        </label>
        <label>
          Verdict{' '}
          <select value={filters.verdict} onChange={(e) => set('verdict', e.target.value)}>
            <option value="">any</option>
            {VERDICTS.map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>
        </label>
        <label>
          Event <input defaultValue={filters.event} onBlur={(e) => set('event', e.target.value)} placeholder="push" />
        </label>
        <label>
          From <input type="datetime-local" value={filters.from} onChange={(e) => set('from', e.target.value)} />
        </label>
        <label>
          To <input type="datetime-local" value={filters.to} onChange={(e) => set('to', e.target.value)} />
        </label>
      </form>
      <ErrorNote error={list.error} />
      <ListView list={list} what="receipts" empty="No receipt matches.">
        <table data-testid="receipts">
          <thead>
            <tr>
              <th>Received</th>
              <th>Source</th>
              <th>Event</th>
              <th>Verdict</th>
              <th>Status</th>
              <th>Rules matched</th>
              <th>Runs</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((r) => (
              <tr key={r.id}>
                <td>
                  <Link to={href('receipts', r.id)}>
                    <Time at={r.created_at} />
                  </Link>
                </td>
                <td>{r.source_id ? (slugOf.get(r.source_id) ?? r.slug) : r.slug}</td>
                <td>{r.event ?? <span className="muted">–</span>}</td>
                <td>
                  <Badge value={r.verdict} />
                  {r.reason && <div className="muted small">{r.reason}</div>}
                </td>
                <td>{r.status_code}</td>
                <td>{r.matched_rules.map((m) => m.rule_name).join(', ') || <span className="muted">none</span>}</td>
                <td>{r.task_ids.length}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </ListView>
    </Page>
  );
}

export function ReceiptPage(props: { id: string }) {
  const receipt = useLoad(
    () => call(api.GET('/api/receipts/{id}', { params: { path: { id: props.id } } })),
    [props.id],
  );
  const replay = useAction();
  const [replayed, setReplayed] = useState<string | null>(null);
  const r = receipt.data;
  if (!r) return <Page title="Receipt">{receipt.loading ? <Loading /> : <ErrorNote error={receipt.error} />}</Page>;

  const canReplay = session.can('admin') && r.verdict !== 'rejected';
  return (
    <Page
      title={`Receipt: ${r.slug}${r.event ? ` · ${r.event}` : ''}`}
      actions={
        canReplay && (
          <button
            type="button"
            disabled={replay.busy}
            onClick={() =>
              void replay
                .run(() => call(api.POST('/api/receipts/{id}/replay', { params: { path: { id: r.id } } })))
                .then((answer) => answer && setReplayed(JSON.stringify(answer)))
            }
          >
            Replay through the rules
          </button>
        )
      }
    >
      <ErrorNote error={replay.error} />
      {replayed && (
        <Panel title="Replayed">
          <Json value={replayed} />
        </Panel>
      )}
      <dl className="facts">
        <dt>Received</dt>
        <dd>
          <Time at={r.created_at} />
        </dd>
        <dt>Verdict</dt>
        <dd>
          <Badge value={r.verdict} /> {r.reason}
        </dd>
        <dt>Answered</dt>
        <dd>
          {r.status_code} in {r.duration_ms} ms
        </dd>
        <dt>From</dt>
        <dd>
          {r.method} from {r.ip ?? 'unknown'}
        </dd>
        <dt>Delivery id</dt>
        <dd>{r.delivery_id ?? '–'}</dd>
        {r.duplicate_of && (
          <>
            <dt>Duplicate of</dt>
            <dd>
              <Link to={href('receipts', r.duplicate_of)}>{r.duplicate_of}</Link>
            </dd>
          </>
        )}
        <dt>Rules matched</dt>
        <dd>
          {r.matched_rules.length
            ? r.matched_rules.map((m) => `${m.rule_name} → ${m.program_name}`).join(', ')
            : 'none'}
        </dd>
        <dt>Task runs</dt>
        <dd>
          {r.task_ids.length
            ? r.task_ids.map((id) => (
                <Link key={id} to={href('tasks', id)}>
                  {id.slice(0, 8)}{' '}
                </Link>
              ))
            : 'none'}
        </dd>
      </dl>
      <div className="grid2">
        <Panel title="Headers (secrets redacted)">
          <Json value={r.headers} />
        </Panel>
        <Panel title={`Body (${r.body_bytes} bytes${r.body_truncated ? ', truncated' : ''})`}>
          {r.body == null ? <Empty>No body kept.</Empty> : <Json value={r.body} />}
        </Panel>
      </div>
    </Page>
  );
}
