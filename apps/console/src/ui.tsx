import {
  type InputHTMLAttributes,
  type ReactNode,
  type TextareaHTMLAttributes,
  useCallback,
  useEffect,
  useId,
  useRef,
  useState,
} from 'react';
import { ApiError, messageOf } from './api';

/** Loads with `load` when `deps` change; `reload` loads again. A failure is kept as `error`. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const generation = useRef(0);
  const run = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ data: s.data, loading: true }));
    load().then(
      (data) => mine === generation.current && setState({ data, loading: false }),
      (error: unknown) => mine === generation.current && setState({ error, loading: false }),
    );
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

/** Runs an action, keeping its error (for the form's fields) and whether it is running. */
export function useAction() {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = useCallback(async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await action();
    } catch (err) {
      setError(err);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { error, busy, run, clear: () => setError(null) };
}

export function Page(props: { title: string; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-head">
        <h1 id="page-title">{props.title}</h1>
        <div className="actions">{props.actions}</div>
      </header>
      {props.children}
    </section>
  );
}

export function Panel(props: { title?: string; children: ReactNode; className?: string }) {
  return (
    <div className={`panel ${props.className ?? ''}`}>
      {props.title && <h2>{props.title}</h2>}
      {props.children}
    </div>
  );
}

/** An error from the hub (or the network), with its request id when there is one. */
export function ErrorNote(props: { error: unknown }) {
  if (!props.error) return null;
  const err = props.error;
  const fields = err instanceof ApiError ? err.fields : [];
  return (
    <div className="error" role="alert">
      <strong>{messageOf(err)}</strong>
      {fields.length > 0 && (
        <ul>
          {fields.map((f) => (
            <li key={f.field}>
              <code>{f.field}</code>: {f.errors.join('; ')}
            </li>
          ))}
        </ul>
      )}
      {err instanceof ApiError && err.requestId && <small> (request {err.requestId})</small>}
    </div>
  );
}

export function Loading(props: { what?: string }) {
  return (
    <p className="muted" role="status">
      Loading{props.what ? ` ${props.what}` : ''}…
    </p>
  );
}

/** A form field with its label, hint and the hub's errors for it (`name` is the API's field name). */
export function Field(props: {
  label: string;
  name: string;
  error?: unknown;
  hint?: ReactNode;
  children: (id: string, describedBy: string | undefined) => ReactNode;
}) {
  const id = useId();
  const errors = props.error instanceof ApiError ? props.error.forField(props.name) : [];
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [props.hint ? hintId : '', errors.length ? errorId : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field ${errors.length ? 'invalid' : ''}`} data-field={props.name}>
      <label htmlFor={id}>{props.label}</label>
      {props.children(id, describedBy)}
      {props.hint && (
        <small id={hintId} className="muted">
          {props.hint}
        </small>
      )}
      {errors.length > 0 && (
        <small id={errorId} className="field-error" role="alert">
          {errors.join('; ')}
        </small>
      )}
    </div>
  );
}

interface FieldProps {
  label: string;
  name: string;
  error?: unknown;
  hint?: ReactNode;
  value: string;
  onChange: (value: string) => void;
}

/** A labelled text input with its hint and the hub's errors for `name`; other props go to the input. */
export function TextField(props: FieldProps & Omit<InputHTMLAttributes<HTMLInputElement>, 'onChange' | 'value'>) {
  const { label, name, error, hint, value, onChange, ...rest } = props;
  return (
    <Field label={label} name={name} error={error} hint={hint}>
      {(id, d) => (
        <input id={id} aria-describedby={d} value={value} onChange={(e) => onChange(e.target.value)} {...rest} />
      )}
    </Field>
  );
}

/** A labelled monospaced text area (JSON, templates) with its hint and the hub's errors for `name`. */
export function TextArea(props: FieldProps & Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, 'onChange' | 'value'>) {
  const { label, name, error, hint, value, onChange, ...rest } = props;
  return (
    <Field label={label} name={name} error={error} hint={hint}>
      {(id, d) => (
        <textarea
          id={id}
          aria-describedby={d}
          className="code"
          value={value}
          onChange={(e) => onChange(e.target.value)}
          {...rest}
        />
      )}
    </Field>
  );
}

/** A form's submit button (disabled while it runs) and, with `onCancel`, its cancel button. */
export function FormButtons(props: { busy: boolean; submit: string; onCancel?: () => void; disabled?: boolean }) {
  return (
    <div className="actions">
      <button type="submit" className="primary" disabled={props.busy || props.disabled}>
        {props.submit}
      </button>
      {props.onCancel && (
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      )}
    </div>
  );
}

export function Time(props: { at?: string | null }) {
  if (!props.at) return <span className="muted">–</span>;
  const d = new Date(props.at);
  return (
    <time dateTime={props.at} title={d.toISOString()}>
      {d.toLocaleString()}
    </time>
  );
}

const TONE: Record<string, string> = {
  accepted: 'good',
  succeeded: 'good',
  delivered: 'good',
  enabled: 'good',
  live: 'good',
  running: 'busy',
  queued: 'busy',
  pending: 'busy',
  retrying: 'warn',
  failed: 'bad',
  timed_out: 'bad',
  canceled: 'muted',
  disabled: 'muted',
};

export function Badge(props: { value: string; tone?: string }) {
  const tone =
    props.tone ?? TONE[props.value] ?? (/^(invalid|rejected|refused|bad|unknown)/.test(props.value) ? 'bad' : 'muted');
  return <span className={`badge ${tone}`}>{props.value.replace(/_/g, ' ')}</span>;
}

/** "Load more" over the API's cursors: `more` is called with the last page's `next_cursor`. */
export function Pager(props: { total?: number; shown: number; next: string | null; onMore: (cursor: string) => void }) {
  return (
    <div className="pager">
      <span className="muted">
        {props.shown} of {props.total ?? props.shown}
      </span>
      {props.next && (
        <button type="button" onClick={() => props.onMore(props.next!)}>
          Load more
        </button>
      )}
    </div>
  );
}

/** A list that pages with the API's cursors: the first page on `deps` change, more pages appended. */
export function usePaged<T>(
  load: (cursor?: string) => Promise<{ items: T[]; total: number; next_cursor?: string | null }>,
  deps: unknown[],
) {
  const first = useLoad(() => load(), deps);
  const [extra, setExtra] = useState<{ items: T[]; next: string | null } | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => setExtra(null), [first.data]);
  const items = [...(first.data?.items ?? []), ...(extra?.items ?? [])];
  const next = extra ? extra.next : (first.data?.next_cursor ?? null);
  const more = (cursor: string) => {
    load(cursor).then(
      (page) => setExtra((e) => ({ items: [...(e?.items ?? []), ...page.items], next: page.next_cursor ?? null })),
      setError,
    );
  };
  return {
    items,
    total: first.data?.total,
    next,
    more,
    error: first.error ?? error,
    loading: first.loading,
    reload: first.reload,
  };
}

/** A paged list: "Loading" before the first page, `empty` when there is nothing, else `children`; then the pager. */
export function ListView(props: {
  list: { items: unknown[]; loading: boolean; total?: number; next: string | null; more: (cursor: string) => void };
  what: string;
  empty?: ReactNode;
  children: ReactNode;
}) {
  const { list } = props;
  return (
    <>
      {list.loading && !list.items.length ? (
        <Loading what={props.what} />
      ) : list.items.length === 0 && props.empty ? (
        <Empty>{props.empty}</Empty>
      ) : (
        props.children
      )}
      <Pager total={list.total} shown={list.items.length} next={list.next} onMore={list.more} />
    </>
  );
}

/** Copies `text`, saying so for a moment. */
export function CopyButton(props: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      onClick={() => {
        void navigator.clipboard?.writeText(props.text).then(() => {
          setDone(true);
          setTimeout(() => setDone(false), 1500);
        });
      }}
    >
      {done ? 'Copied' : (props.label ?? 'Copy')}
    </button>
  );
}

/** A value shown once (a new secret or key): the operator must copy it now. */
export function ShownOnce(props: { label: string; value: string; onDone: () => void }) {
  return (
    <div className="shown-once" role="dialog" aria-label={props.label}>
      <p>
        <strong>{props.label}</strong>: shown once. Copy it now; the hub will not show it again.
      </p>
      <code className="secret" data-testid="shown-once">
        {props.value}
      </code>
      <div className="actions">
        <CopyButton text={props.value} />
        <button type="button" onClick={props.onDone}>
          Done
        </button>
      </div>
    </div>
  );
}

export function Empty(props: { children: ReactNode }) {
  return <p className="empty muted">{props.children}</p>;
}

/** Parses JSON typed in a form; the error names the field (`what`) and says what is wrong. */
export function parseJson<T = unknown>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${what} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export function pretty(value: unknown): string {
  if (typeof value === 'string') {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2);
}

export function Json(props: { value: unknown }) {
  return <pre className="code">{pretty(props.value)}</pre>;
}
