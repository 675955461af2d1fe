import { Field, TextArea, TextField, parseJson } from './ui';

/**
 * Settings forms described as a table: each row says how one API field is shown and sent. Values are edited as
 * text and turned back into the API's types on save.
 */
export interface Setting<K extends string = string> {
  name: K;
  label: string;
  /**
   * `number`; `number?` (empty: null, the default); `list` (comma-separated strings); `numbers?` (comma-separated
   * numbers, empty: null); `text`; `text?` (empty: null); `select` (`options`); `json?` (a JSON value, empty: null).
   */
  kind: 'number' | 'number?' | 'list' | 'numbers?' | 'text' | 'text?' | 'select' | 'json?';
  options?: readonly string[];
  hint?: string;
}

/** The form's text for each setting, from the object the API returned. */
export function settingValues(settings: readonly Setting[], source: object): Record<string, string> {
  const values: Record<string, string> = {};
  for (const s of settings) {
    const v = (source as Record<string, unknown>)[s.name];
    if (s.kind === 'json?') values[s.name] = v == null ? '' : JSON.stringify(v, null, 2);
    else values[s.name] = Array.isArray(v) ? v.join(', ') : v == null ? '' : String(v);
  }
  return values;
}

/** The request body for the settings, typed as the API takes them; throws on JSON that does not parse. */
export function settingsBody(settings: readonly Setting[], values: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const list = (v: string) =>
    v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  for (const s of settings) {
    const v = values[s.name].trim();
    if (s.kind === 'number') body[s.name] = Number(v);
    else if (s.kind === 'number?') body[s.name] = v === '' ? null : Number(v);
    else if (s.kind === 'list') body[s.name] = list(v);
    else if (s.kind === 'numbers?') body[s.name] = v === '' ? null : list(v).map(Number);
    else if (s.kind === 'text?') body[s.name] = v || null;
    else if (s.kind === 'json?') body[s.name] = v === '' ? null : parseJson(v, s.label);
    else body[s.name] = v;
  }
  return body;
}

/** The fields of a settings form, each with the hub's errors for it. */
export function SettingsFields(props: {
  settings: readonly Setting[];
  values: Record<string, string>;
  onChange: (values: Record<string, string>) => void;
  error: unknown;
}) {
  const { values, error } = props;
  const set = (name: string) => (v: string) => props.onChange({ ...values, [name]: v });
  return (
    <>
      {props.settings.map((s) =>
        s.kind === 'select' ? (
          <Field key={s.name} label={s.label} name={s.name} error={error} hint={s.hint}>
            {(id, d) => (
              <select id={id} aria-describedby={d} value={values[s.name]} onChange={(e) => set(s.name)(e.target.value)}>
                {s.options!.map((o) => (
                  <option key={o}>{o}</option>
                ))}
              </select>
            )}
          </Field>
        ) : s.kind === 'json?' ? (
          <TextArea
            key={s.name}
            label={s.label}
            name={s.name}
            error={error}
            hint={s.hint}
            rows={4}
            value={values[s.name]}
            onChange={set(s.name)}
          />
        ) : (
          <TextField
            key={s.name}
            label={s.label}
            name={s.name}
            error={error}
            hint={s.hint}
            inputMode={s.kind.startsWith('number') ? 'numeric' : undefined}
            value={values[s.name]}
            onChange={set(s.name)}
          />
        ),
      )}
    </>
  );
}
