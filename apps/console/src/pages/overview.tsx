import { useState } from 'react';
import { api, call } from '../api';
import { type Bar, SERIES_TONES, type Series, StackedBars, hourSlots } from '../charts';
import { Link, href } from '../router';
import { Badge, Empty, ErrorNote, Loading, Page, Panel, Time, useLoad } from '../ui';

const WINDOWS = [6, 24, 72, 168];

export function OverviewPage() {
  const [hours, setHours] = useState(24);
  const { data, error, loading, reload } = useLoad(
    () => call(api.GET('/api/overview', { params: { query: { hours } } })),
    [hours],
  );

  const actions = (
    <>
      <label>
        Window{' '}
        <select value={hours} onChange={(e) => setHours(Number(e.target.value))}>
          {WINDOWS.map((h) => (
            <option key={h} value={h}>
              last {h} h
            </option>
          ))}
        </select>
      </label>
      <button type="button" onClick={reload}>
        Refresh
      </button>
    </>
  );
  if (!data) {
    return (
      <Page title="Overview" actions={actions}>
        {loading ? <Loading what="the overview" /> : <ErrorNote error={error} />}
      </Page>
    );
  }

  const slots = hourSlots(data.from, data.to);
  const verdicts = [...new Set(data.receipts.map((r) => r.verdict))].sort((a, b) =>
    a === 'accepted' ? -1 : b === 'accepted' ? 1 : a.localeCompare(b),
  );
  const verdictSeries: Series[] = verdicts.map((v, i) => ({
    key: v,
    label: v.replace(/_/g, ' '),
    tone: v === 'accepted' ? 'c-good' : SERIES_TONES[(i % (SERIES_TONES.length - 1)) + 1],
  }));
  const receiptBars: Bar[] = slots.map((s) => ({
    label: s.label,
    values: Object.fromEntries(data.receipts.filter((r) => r.hour === s.key).map((r) => [r.verdict, r.count])),
  }));
  const deliveryBars: Bar[] = slots.map((s) => {
    const h = data.deliveries.find((d) => d.hour === s.key);
    return { label: s.label, values: { ok: h?.succeeded ?? 0, failed: (h?.attempts ?? 0) - (h?.succeeded ?? 0) } };
  });
  const statusSeries: Series[] = data.task_runs.map((t, i) => ({
    key: t.status,
    label: t.status.replace(/_/g, ' '),
    tone:
      t.status === 'succeeded'
        ? 'c-good'
        : t.status === 'failed' || t.status === 'timed_out'
          ? 'c-bad'
          : t.status === 'running' || t.status === 'queued'
            ? 'c-busy'
            : SERIES_TONES[i % SERIES_TONES.length],
  }));
  const totals = data.delivery_totals;
  const received = data.receipts.reduce((n, r) => n + r.count, 0);
  const runs = data.task_runs.reduce((n, r) => n + r.count, 0);
  const queuedRuns = data.task_queues.reduce((n, q) => n + q.queued, 0);

  return (
    <Page title="Overview" actions={actions}>
      <div className="stats" data-testid="overview-stats">
        <Stat label="Triggers received" value={received.toLocaleString()} />
        <Stat label="Task runs" value={runs.toLocaleString()} />
        <Stat label="Delivery attempts" value={totals.attempts.toLocaleString()} />
        <Stat
          label="Delivery success"
          value={totals.success_rate == null ? '–' : `${(totals.success_rate * 100).toFixed(1)}%`}
        />
        <Stat
          label="Delivery p50 / p95"
          value={totals.p50_ms == null ? '–' : `${totals.p50_ms} / ${totals.p95_ms} ms`}
        />
        <Stat label="Live workers" value={String(data.live_workers)} tone={data.live_workers ? undefined : 'bad'} />
      </div>
      <div className="grid2">
        <Panel>
          <StackedBars title="Triggers received per hour, by verdict" series={verdictSeries} bars={receiptBars} />
        </Panel>
        <Panel>
          <StackedBars
            title="Delivery attempts per hour"
            series={[
              { key: 'ok', label: 'succeeded', tone: 'c-good' },
              { key: 'failed', label: 'failed', tone: 'c-bad' },
            ]}
            bars={deliveryBars}
          />
        </Panel>
        <Panel>
          <StackedBars
            title="Task runs created in the window, by status"
            series={statusSeries}
            bars={[
              {
                label: `last ${data.hours} h`,
                values: Object.fromEntries(data.task_runs.map((t) => [t.status, t.count])),
              },
            ]}
          />
        </Panel>
        <Panel title="Waiting work">
          <table>
            <thead>
              <tr>
                <th>Queue</th>
                <th>Queued</th>
                <th>Oldest due waited</th>
              </tr>
            </thead>
            <tbody>
              {data.task_queues.map((q) => (
                <tr key={q.queue}>
                  <td>tasks: {q.queue}</td>
                  <td>{q.queued}</td>
                  <td>{q.oldest_due_age_seconds.toFixed(1)} s</td>
                </tr>
              ))}
              <tr>
                <td>deliveries</td>
                <td>
                  {data.deliveries_queued}
                  {data.deliveries_queued > data.deliveries_due && (
                    <small className="muted"> ({data.deliveries_queued - data.deliveries_due} retrying later)</small>
                  )}
                </td>
                <td>{data.deliveries_oldest_due_age_seconds.toFixed(1)} s</td>
              </tr>
            </tbody>
          </table>
          {queuedRuns > 0 && data.live_workers === 0 && (
            <p className="error" role="alert">
              Runs are queued but no worker is alive.
            </p>
          )}
        </Panel>
      </div>
      <Panel title={`Webhooks failing now (${data.failing_webhooks_total})`}>
        {data.failing_webhooks.length === 0 ? (
          <Empty>No webhook is failing.</Empty>
        ) : (
          <table data-testid="failing-webhooks">
            <thead>
              <tr>
                <th>Webhook</th>
                <th>Failing since</th>
                <th>Last error</th>
              </tr>
            </thead>
            <tbody>
              {data.failing_webhooks.map((w) => (
                <tr key={w.id}>
                  <td>
                    <Link to={href('webhooks', w.id)}>{w.name || w.url}</Link>
                    <div className="muted small">{w.url}</div>
                  </td>
                  <td>
                    <Time at={w.failing_since} />
                  </td>
                  <td>
                    <Badge value="failed" /> {w.last_error} <Time at={w.last_error_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
    </Page>
  );
}

function Stat(props: { label: string; value: string; tone?: string }) {
  return (
    <div className={`stat ${props.tone ?? ''}`}>
      <div className="value">{props.value}</div>
      <div className="label">{props.label}</div>
    </div>
  );
}
