/**
 * What every section of a report shares: the context it is built in, the side-by-side layout
 * of several runs, number formatting and the comparison table.
 */
import * as path from 'node:path';
import { esc, type ChartSet } from './html.js';
import type { RunFolder } from './run_folder.js';

/** What every section gets. */
export interface SectionContext {
  runs: RunFolder[];
  charts: ChartSet;
  /** Point cap of the projections. */
  pointCap: number;
}

/** A section: its anchor, heading and builder. */
export interface SectionDef {
  id: string;
  title: string;
  build(ctx: SectionContext): Promise<string | null>;
}

/** Lays out one block per run side by side (or just the block, for one run). */
export function perRun(ctx: SectionContext, blocks: (string | null)[]): string | null {
  if (blocks.every((b) => b === null)) return null;
  if (ctx.runs.length === 1) return blocks[0];
  return `<div class="row">${blocks.map((b, i) => `<div class="run-col"><h3>${esc(ctx.runs[i].name)}</h3>${b ?? '<p class="note">(nothing for this run)</p>'}</div>`).join('')}</div>`;
}

/** `fn` on each run in turn (in order: chart numbers follow the page, and model runs do not overlap). */
export async function eachRun<T>(ctx: SectionContext, fn: (run: RunFolder) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (const run of ctx.runs) out.push(await fn(run));
  return out;
}

export const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A number as the tables show it. */
export function fmt(v: unknown): string {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    return Math.abs(v) >= 1000 ? v.toFixed(1) : Math.abs(v) >= 0.01 ? v.toFixed(4) : v.toPrecision(3);
  }
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Flattens nested settings to dotted keys (arrays stay one value). */
export function flatten(obj: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) {
    if (prefix) out[prefix] = obj;
    return out;
  }
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

/** Results whose mean over runs means nothing. */
const NO_SPREAD = new Set(['seed', 'peakRssBytes']);

/** A key/value table with one value column per run; rows whose values differ between runs are marked. */
export function comparisonTable(ctx: SectionContext, values: Record<string, unknown>[], opts: { spread?: boolean } = {}): string {
  const keys = [...new Set(values.flatMap((v) => Object.keys(v)))];
  if (keys.length === 0) return '<p class="note">(none recorded)</p>';
  const many = ctx.runs.length > 1;
  const head = many ? `<tr><th></th>${ctx.runs.map((r) => `<th>${esc(r.name)}</th>`).join('')}${opts.spread ? '<th>mean +- s.d.</th>' : ''}</tr>` : '';
  const rows = keys.map((k) => {
    const cells = values.map((v) => v[k]);
    const differ = many && new Set(cells.map((c) => JSON.stringify(c))).size > 1;
    const nums = cells.map(num);
    let spread = '';
    if (opts.spread && many && !NO_SPREAD.has(k)) {
      const xs = nums.filter((x): x is number => x !== null);
      if (xs.length === cells.length && xs.length > 1) {
        const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
        const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
        spread = `<td class="num">${fmt(mean)} +- ${fmt(sd)}</td>`;
      } else spread = '<td></td>';
    }
    return `<tr><td>${esc(k)}</td>${cells.map((c) => `<td class="${typeof c === 'number' ? 'num' : ''}${differ ? ' diff' : ''}">${esc(fmt(c))}</td>`).join('')}${spread}</tr>`;
  });
  return `<table class="kv">${head}${rows.join('')}</table>${many && rows.some((r) => r.includes(' diff')) ? '<p class="note">Highlighted rows differ between the runs.</p>' : ''}`;
}

/** The results a run reports: record.result, or the record's own top-level scalars for older records. */
export function resultsOf(run: RunFolder): Record<string, unknown> {
  const res = run.record.result && typeof run.record.result === 'object' ? (run.record.result as Record<string, unknown>) : run.record;
  const skip = new Set(['command', 'settings', 'backend', 'versions', 'files', 'argv', 'schemaVersion', 'outDir', 'finishedAt', 'started', 'ended', 'dnnkit', 'model', 'methods']);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(res)) {
    if ((skip.has(k) && res === run.record) || k === 'command') continue;
    // numbers and short words; file paths (curvesCsv, outDir) are in the Files section
    const isPath = typeof v === 'string' && (path.isAbsolute(v) || /\.(csv|png|svg|json|html)$/.test(v));
    if (typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v.length < 80 && !isPath)) out[k] = v;
  }
  for (const k of ['wallSeconds', 'peakRssBytes']) if (num(run.record[k]) !== null && !(k in out)) out[k] = run.record[k];
  return out;
}
