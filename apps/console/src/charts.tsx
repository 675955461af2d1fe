/**
 * Small SVG charts, drawn here rather than with a charting library: the console ships no code it does not use
 * and loads nothing from another host.
 */

export interface Series {
  key: string;
  label: string;
  /** A CSS class giving the colour (see styles.css: c-good, c-bad, c-warn, c-busy, c-muted, c-0..c-5). */
  tone: string;
}

export interface Bar {
  /** The x label (an hour, a status). */
  label: string;
  /** A value per series key. */
  values: Record<string, number>;
}

const W = 640;
const H = 200;
const PAD = { top: 10, right: 8, bottom: 28, left: 44 };

function niceMax(max: number): number {
  if (max <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (max <= m * step) return m * step;
  return 10 * step;
}

/** Stacked bars, one per x label, with a legend, axis ticks and a title per bar for the exact numbers. */
export function StackedBars(props: { title: string; series: Series[]; bars: Bar[]; empty?: string }) {
  const totals = props.bars.map((b) => props.series.reduce((n, s) => n + (b.values[s.key] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = props.bars.length ? plotW / props.bars.length : plotW;
  const barW = Math.max(2, Math.min(40, slot * 0.7));
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const labelEvery = Math.max(1, Math.ceil(props.bars.length / 8));
  const total = totals.reduce((a, b) => a + b, 0);
  return (
    <figure className="chart" aria-label={props.title}>
      <figcaption>
        {props.title}
        <ul className="legend">
          {props.series.map((s) => (
            <li key={s.key}>
              <span className={`swatch ${s.tone}`} aria-hidden="true" /> {s.label}
            </li>
          ))}
        </ul>
      </figcaption>
      {total === 0 ? (
        <p className="muted empty">{props.empty ?? 'Nothing in this window.'}</p>
      ) : (
        <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${props.title}: ${total} in all`}>
          {[0, 0.5, 1].map((f) => (
            <g key={f}>
              <line className="grid" x1={PAD.left} x2={W - PAD.right} y1={y(max * f)} y2={y(max * f)} />
              <text className="tick" x={PAD.left - 6} y={y(max * f) + 4} textAnchor="end">
                {Number((max * f).toPrecision(3)).toLocaleString()}
              </text>
            </g>
          ))}
          {props.bars.map((b, i) => {
            const x = PAD.left + i * slot + (slot - barW) / 2;
            let base = 0;
            return (
              <g key={b.label} data-bar={b.label}>
                <title>
                  {b.label}: {props.series.map((s) => `${s.label} ${b.values[s.key] ?? 0}`).join(', ')}
                </title>
                {props.series.map((s) => {
                  const v = b.values[s.key] ?? 0;
                  if (!v) return null;
                  const top = y(base + v);
                  const rect = (
                    <rect key={s.key} className={s.tone} x={x} y={top} width={barW} height={y(base) - top} />
                  );
                  base += v;
                  return rect;
                })}
                {i % labelEvery === 0 && (
                  <text className="tick" x={x + barW / 2} y={H - PAD.bottom + 16} textAnchor="middle">
                    {b.label}
                  </text>
                )}
              </g>
            );
          })}
        </svg>
      )}
    </figure>
  );
}

/** The hours from `from`'s to `to`'s as bar labels (`HH:00`, local time) with their ISO keys (whole hours). */
export function hourSlots(from: string, to: string): Array<{ key: string; label: string }> {
  const slots: Array<{ key: string; label: string }> = [];
  const first = Math.floor(new Date(from).getTime() / 3_600_000) * 3_600_000;
  for (let t = first; t <= new Date(to).getTime(); t += 3_600_000) {
    const d = new Date(t);
    slots.push({ key: d.toISOString(), label: `${String(d.getHours()).padStart(2, '0')}:00` });
  }
  return slots;
}

/** Colours for series without a meaning of their own (verdicts other than accepted, say). */
export const SERIES_TONES = ['c-0', 'c-1', 'c-2', 'c-3', 'c-4', 'c-5'];
