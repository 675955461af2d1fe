import { type FormEvent, useState } from 'react';
import { type Schemas, api, call, session } from '../api';
import { SERIES_TONES, StackedBars } from '../charts';
import { Link, href, navigate } from '../router';
import { SCHEMES } from '../api/enums';
import { type Setting, SettingsFields, settingValues, settingsBody } from '../settings';
import {
  Badge,
  Empty,
  ErrorNote,
  Field,
  FormButtons,
  ListView,
  Loading,
  Page,
  Panel,
  ShownOnce,
  TextArea,
  TextField,
  Time,
  parseJson,
  useAction,
  useLoad,
  usePaged,
} from '../ui';

type Source = Schemas['SourceDto'];
type Rule = Schemas['RuleDto'];
type Scheme = Schemas['CreateSourceDto']['scheme'];

export function SourcesPage() {
  const [creating, setCreating] = useState(false);
  const list = usePaged((cursor) => call(api.GET('/api/sources', { params: { query: { cursor, limit: 50 } } })), []);
  return (
    <Page
      title="Sources"
      actions={
        session.can('operator') && (
          <button type="button" className="primary" onClick={() => setCreating(true)}>
            New source
          </button>
        )
      }
    >
      {creating && <CreateSource onClose={() => setCreating(false)} />}
      <ErrorNote error={list.error} />
      <ListView list={list} what="sources" empty="No source yet: create one, then add rules that run programs.">
        <table data-testid="sources">
          <thead>
            <tr>
              <th>Slug</th>
              <th>Receives at</th>
              <th>Verification</th>
              <th>State</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((s) => (
              <tr key={s.id}>
                <td>
                  <Link to={href('sources', s.id)}>{s.slug}</Link>
                </td>
                <td>
                  <code>POST {s.url_path}</code>
                </td>
                <td>
                  {s.scheme}
                  {s.unverified && <Badge value="unverified" tone="warn" />}
                </td>
                <td>
                  <Badge value={s.enabled ? 'enabled' : 'disabled'} />
                </td>
                <td>
                  <Time at={s.created_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </ListView>
    </Page>
  );
}

function CreateSource(props: { onClose: () => void }) {
  const [slug, setSlug] = useState('');
  const [scheme, setScheme] = useState<Scheme>('github');
  const [secret, setSecret] = useState('');
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action
      .run(() => call(api.POST('/api/sources', { body: { slug, scheme, secrets: secret ? [secret] : undefined } })))
      .then((s) => {
        if (!s) return;
        props.onClose();
        navigate(href('sources', s.id));
      });
  };
  return (
    <Panel title="New source">
      <form onSubmit={submit} aria-label="New source">
        <TextField
          label="Slug"
          name="slug"
          error={action.error}
          hint="Triggers are posted to /hooks/<slug>"
          value={slug}
          onChange={setSlug}
          required
        />
        <Field label="Verification scheme" name="scheme" error={action.error}>
          {(id, d) => (
            <select id={id} aria-describedby={d} value={scheme} onChange={(e) => setScheme(e.target.value as Scheme)}>
              {SCHEMES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          )}
        </Field>
        <Field
          label="Secret"
          name="secrets"
          error={action.error}
          hint="The secret the sender signs with (write-only: the hub never shows it)"
        >
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              type="password"
              autoComplete="new-password"
              value={secret}
              onChange={(e) => setSecret(e.target.value)}
            />
          )}
        </Field>
        <ErrorNote error={action.error} />
        <FormButtons busy={action.busy} submit="Create" onCancel={props.onClose} />
      </form>
    </Panel>
  );
}

export function SourcePage(props: { id: string }) {
  const id = props.id;
  const source = useLoad(() => call(api.GET('/api/sources/{id}', { params: { path: { id } } })), [id]);
  const rules = useLoad(() => call(api.GET('/api/sources/{id}/rules', { params: { path: { id } } })), [id]);
  const programs = useLoad(() => call(api.GET('/api/programs', { params: { query: { limit: 200 } } })), []);
  const action = useAction();
  const [tab, setTab] = useState<'rules' | 'settings'>('rules');
  const s = source.data;
  if (!s) return <Page title="Source">{source.loading ? <Loading /> : <ErrorNote error={source.error} />}</Page>;
  const canWrite = session.can('operator');
  const path = { params: { path: { id } } };
  return (
    <Page
      title={`Source: ${s.slug}`}
      actions={
        canWrite && (
          <>
            <button
              type="button"
              disabled={action.busy}
              onClick={() =>
                void action
                  .run(() =>
                    call(
                      s.enabled
                        ? api.POST('/api/sources/{id}/disable', path)
                        : api.POST('/api/sources/{id}/enable', path),
                    ),
                  )
                  .then((r) => r && source.reload())
              }
            >
              {s.enabled ? 'Disable' : 'Enable'}
            </button>
            <button
              type="button"
              className="danger"
              onClick={() => {
                if (!confirm(`Delete the source ${s.slug} and its rules?`)) return;
                void action
                  .run(() => call(api.DELETE('/api/sources/{id}', path)))
                  .then((r) => r !== undefined && navigate(href('sources')));
              }}
            >
              Delete
            </button>
          </>
        )
      }
    >
      <ErrorNote error={action.error} />
      <dl className="facts">
        <dt>Receives at</dt>
        <dd>
          <code>POST {s.url_path}</code>
        </dd>
        <dt>Verification</dt>
        <dd>
          {s.scheme}, {s.secret_count} secret{s.secret_count === 1 ? '' : 's'}
          {s.unverified && ' (unverified: anyone can trigger it)'}
        </dd>
        <dt>State</dt>
        <dd>
          <Badge value={s.enabled ? 'enabled' : 'disabled'} />
        </dd>
        <dt>Limits</dt>
        <dd>
          {s.rate_limit ? `${s.rate_limit} per minute` : 'no rate limit'}, bodies up to {s.body_limit} bytes
        </dd>
      </dl>
      <SourceStats id={id} />
      <div className="tabs" role="tablist">
        <button role="tab" type="button" aria-selected={tab === 'rules'} onClick={() => setTab('rules')}>
          Rules
        </button>
        <button role="tab" type="button" aria-selected={tab === 'settings'} onClick={() => setTab('settings')}>
          Settings
        </button>
      </div>
      {tab === 'rules' && (
        <>
          <Rules
            source={s}
            rules={rules.data?.items ?? []}
            programs={programs.data?.items ?? []}
            canWrite={canWrite}
            onChange={rules.reload}
          />
          {canWrite && <Explain sourceId={id} />}
        </>
      )}
      {tab === 'settings' && <SourceSettings source={s} canWrite={canWrite} onSaved={source.reload} />}
    </Page>
  );
}

function SourceStats(props: { id: string }) {
  const stats = useLoad(
    () => call(api.GET('/api/sources/{id}/stats', { params: { path: { id: props.id } } })),
    [props.id],
  );
  const s = stats.data;
  if (!s) return stats.error ? <ErrorNote error={stats.error} /> : null;
  const verdicts = [...new Set(s.by_hour.flatMap((h) => Object.keys(h.by_verdict)))].sort();
  return (
    <Panel>
      <StackedBars
        title={`Triggers per hour (${s.total} since ${new Date(s.from).toLocaleString()})`}
        series={verdicts.map((v, i) => ({
          key: v,
          label: v,
          tone: v === 'accepted' ? 'c-good' : SERIES_TONES[(i % (SERIES_TONES.length - 1)) + 1],
        }))}
        bars={s.by_hour.map((h) => ({
          label: `${String(new Date(h.hour).getHours()).padStart(2, '0')}:00`,
          values: h.by_verdict,
        }))}
      />
    </Panel>
  );
}

function Rules(props: {
  source: Source;
  rules: Rule[];
  programs: Array<Schemas['ProgramDto']>;
  canWrite: boolean;
  onChange: () => void;
}) {
  const [editing, setEditing] = useState<Rule | 'new' | null>(null);
  const action = useAction();
  const programName = new Map(props.programs.map((p) => [p.id, p.name]));
  return (
    <Panel title="Rules, in order">
      <ErrorNote error={action.error} />
      {props.rules.length === 0 ? (
        <Empty>No rule: triggers are received but run nothing.</Empty>
      ) : (
        <table data-testid="rules">
          <thead>
            <tr>
              <th>#</th>
              <th>Name</th>
              <th>When</th>
              <th>Runs</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {props.rules.map((r) => (
              <tr key={r.id}>
                <td>{r.position}</td>
                <td>{r.name}</td>
                <td>
                  <code className="small">{JSON.stringify(r.condition)}</code>
                </td>
                <td>{programName.get(r.program_id) ?? r.program_id}</td>
                <td>
                  <Badge value={r.enabled ? 'enabled' : 'disabled'} />
                </td>
                <td>
                  {props.canWrite && (
                    <>
                      <button type="button" onClick={() => setEditing(r)}>
                        Edit
                      </button>
                      <button
                        type="button"
                        className="danger"
                        onClick={() => {
                          if (!confirm(`Delete the rule ${r.name}?`)) return;
                          void action
                            .run(() =>
                              call(
                                api.DELETE('/api/sources/{id}/rules/{ruleId}', {
                                  params: { path: { id: props.source.id, ruleId: r.id } },
                                }),
                              ),
                            )
                            .then((x) => x !== undefined && props.onChange());
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
      )}
      {props.canWrite && editing == null && (
        <button type="button" onClick={() => setEditing('new')}>
          Add a rule
        </button>
      )}
      {editing != null && (
        <RuleForm
          sourceId={props.source.id}
          rule={editing === 'new' ? null : editing}
          programs={props.programs}
          onDone={(changed) => {
            setEditing(null);
            if (changed) props.onChange();
          }}
        />
      )}
    </Panel>
  );
}

function RuleForm(props: {
  sourceId: string;
  rule: Rule | null;
  programs: Array<Schemas['ProgramDto']>;
  onDone: (changed: boolean) => void;
}) {
  const r = props.rule;
  const [name, setName] = useState(r?.name ?? '');
  const [programId, setProgramId] = useState(r?.program_id ?? props.programs[0]?.id ?? '');
  const [condition, setCondition] = useState(JSON.stringify(r?.condition ?? {}, null, 2));
  const [args, setArgs] = useState(JSON.stringify(r?.args ?? [], null, 2));
  const [conditionProblem, setConditionProblem] = useState<string | null>(null);
  const action = useAction();
  const checkCondition = (text: string) => {
    setCondition(text);
    try {
      JSON.parse(text);
      setConditionProblem(null);
    } catch (err) {
      setConditionProblem(err instanceof Error ? err.message : String(err));
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action
      .run(async () => {
        const body = {
          name,
          program_id: programId,
          condition: parseJson(condition, 'The condition') as Rule['condition'],
          args: parseJson(args, 'The arguments') as Rule['args'],
        };
        return r
          ? call(
              api.PATCH('/api/sources/{id}/rules/{ruleId}', {
                params: { path: { id: props.sourceId, ruleId: r.id } },
                body,
              }),
            )
          : call(api.POST('/api/sources/{id}/rules', { params: { path: { id: props.sourceId } }, body }));
      })
      .then((x) => x && props.onDone(true));
  };
  return (
    <form onSubmit={submit} aria-label={r ? `Edit rule ${r.name}` : 'New rule'} className="subform">
      <h3>{r ? `Edit rule ${r.name}` : 'New rule'}</h3>
      <TextField label="Name" name="name" error={action.error} value={name} onChange={setName} required />
      <Field label="Program" name="program_id" error={action.error}>
        {(id, d) => (
          <select id={id} aria-describedby={d} value={programId} onChange={(e) => setProgramId(e.target.value)}>
            {props.programs.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field
        label="Condition"
        name="condition"
        error={action.error}
        hint={
          conditionProblem ??
          'JSON: tests such as {"path": "body.ref", "eq": "refs/heads/main"} (also neq, in, exists, prefix, suffix, glob, regex, gt, lt), combined with {"and": [...]}, {"or": [...]}, {"not": ...}; {} matches everything'
        }
      >
        {(id, d) => (
          <textarea
            id={id}
            aria-describedby={d}
            aria-invalid={conditionProblem != null}
            className="code"
            rows={6}
            value={condition}
            onChange={(e) => checkCondition(e.target.value)}
          />
        )}
      </Field>
      <Field
        label="Arguments"
        name="args"
        error={action.error}
        hint='JSON list of templates, e.g. ["--ref", "{{body.ref}}"]'
      >
        {(id, d) => (
          <textarea
            id={id}
            aria-describedby={d}
            className="code"
            rows={3}
            value={args}
            onChange={(e) => setArgs(e.target.value)}
          />
        )}
      </Field>
      <ErrorNote error={action.error} />
      <FormButtons
        busy={action.busy}
        submit="Save rule"
        onCancel={() => props.onDone(false)}
        disabled={conditionProblem != null}
      />
    </form>
  );
}

/** Paste a sample trigger and see which rule matches, why the others do not, and the argv it would run. */
function Explain(props: { sourceId: string }) {
  const [body, setBody] = useState('{\n  "ref": "refs/heads/main"\n}');
  const [headers, setHeaders] = useState('{\n  "x-github-event": "push"\n}');
  const [result, setResult] = useState<Schemas['RuleTestResultDto'] | null>(null);
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action
      .run(() =>
        call(
          api.POST('/api/sources/{id}/rules/test', {
            params: { path: { id: props.sourceId } },
            body: {
              body: parseJson(body, 'The body') as Record<string, unknown> | string,
              headers: parseJson(headers, 'The headers') as Record<string, string>,
            },
          }),
        ),
      )
      .then((r) => r && setResult(r));
  };
  return (
    <Panel title="Explain: which rule would run for a sample">
      <form onSubmit={submit} aria-label="Explain">
        <div className="grid2">
          <TextArea
            label="Sample body (JSON)"
            name="body"
            error={action.error}
            rows={6}
            value={body}
            onChange={setBody}
          />
          <TextArea
            label="Sample headers (JSON)"
            name="headers"
            error={action.error}
            rows={6}
            value={headers}
            onChange={setHeaders}
          />
        </div>
        <ErrorNote error={action.error} />
        <button type="submit" disabled={action.busy}>
          Explain
        </button>
      </form>
      {result && (
        <div data-testid="explain">
          <p>
            Event: <strong>{result.event ?? '(none)'}</strong>.{' '}
            {result.matched ? 'A rule matches.' : 'No rule matches: the trigger would run nothing.'}
          </p>
          <table>
            <thead>
              <tr>
                <th>#</th>
                <th>Rule</th>
                <th>Verdict</th>
                <th>Why / would run</th>
              </tr>
            </thead>
            <tbody>
              {result.rules.map((v) => (
                <tr key={v.rule_id} data-rule={v.name}>
                  <td>{v.position}</td>
                  <td>{v.name}</td>
                  <td>
                    <Badge
                      value={v.would_run ? 'would run' : v.matched ? 'matches' : 'no match'}
                      tone={v.would_run ? 'good' : v.matched ? 'warn' : 'muted'}
                    />
                    {!v.enabled && ' (disabled)'}
                  </td>
                  <td>
                    {v.failed && <span>{v.failed}</span>}
                    {v.argv && <code>{v.argv.join(' ')}</code>}
                    {v.refused && <span className="error-text"> refused: {v.refused}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}

/** The source settings the form edits after creation. */
const SETTINGS: ReadonlyArray<Setting<keyof Schemas['UpdateSourceDto']>> = [
  { name: 'rate_limit', label: 'Rate limit (requests per minute, 0: none)', kind: 'number' },
  { name: 'body_limit', label: 'Largest body (bytes)', kind: 'number' },
  { name: 'ip_allow', label: 'Allowed addresses', kind: 'list', hint: 'CIDRs, comma-separated; empty: any' },
  { name: 'methods', label: 'Methods', kind: 'list', hint: 'e.g. POST' },
  { name: 'content_types', label: 'Content types', kind: 'list', hint: 'empty: any' },
  { name: 'replay_window_seconds', label: 'Replay window (seconds)', kind: 'number' },
  { name: 'dedup_window_seconds', label: 'De-duplication window (seconds)', kind: 'number' },
  { name: 'event_header', label: 'Event header', kind: 'text?', hint: "empty: the scheme's default" },
  { name: 'event_field', label: 'Event field of the body', kind: 'text?', hint: 'e.g. action; empty: none' },
  { name: 'match_mode', label: 'Rules that run', kind: 'select', options: ['first', 'all'] },
  { name: 'response_mode', label: 'Answer', kind: 'select', options: ['async', 'sync'] },
  { name: 'sync_timeout_seconds', label: 'Sync answer waits at most (seconds)', kind: 'number' },
  { name: 'aliases', label: 'Also reached at', kind: 'list', hint: 'exact paths for old senders, e.g. /backup' },
  {
    name: 'answer',
    label: 'Answers (JSON)',
    kind: 'json?',
    hint: '{"status": 200, "body": {...}, "errors": "simple"}; empty: Hookhub\'s answers',
  },
];

function SourceSettings(props: { source: Source; canWrite: boolean; onSaved: () => void }) {
  const s = props.source;
  const [values, setValues] = useState(() => settingValues(SETTINGS, s));
  const [newSecret, setNewSecret] = useState('');
  const [shown, setShown] = useState<string | null>(null);
  const action = useAction();
  const [saved, setSaved] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    void action
      .run(() => {
        const body = settingsBody(SETTINGS, values);
        if (newSecret) body.secrets = [newSecret];
        return call(
          api.PATCH('/api/sources/{id}', { params: { path: { id: s.id } }, body: body as Schemas['UpdateSourceDto'] }),
        );
      })
      .then((r) => {
        if (!r) return;
        setSaved(true);
        setNewSecret('');
        props.onSaved();
      });
  };
  const generate = () => {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const value = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    setNewSecret(value);
    setShown(value);
  };
  return (
    <Panel>
      {shown && <ShownOnce label="Generated secret" value={shown} onDone={() => setShown(null)} />}
      <form onSubmit={submit} aria-label="Source settings">
        <fieldset disabled={!props.canWrite}>
          <SettingsFields settings={SETTINGS} values={values} onChange={setValues} error={action.error} />
          <Field
            label="Replace the secret"
            name="secrets"
            error={action.error}
            hint="Write-only. Leave empty to keep the current secret."
          >
            {(id, d) => (
              <div className="row">
                <input
                  id={id}
                  aria-describedby={d}
                  type="password"
                  autoComplete="new-password"
                  value={newSecret}
                  onChange={(e) => setNewSecret(e.target.value)}
                />
                <button type="button" onClick={generate}>
                  Generate
                </button>
              </div>
            )}
          </Field>
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
