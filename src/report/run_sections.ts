/** Sections on the run itself: its results, settings and backend, its files; the summary line. */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { esc, formatBytes } from './html.js';
import { pick, pickFirst, type RunFolder } from './run_folder.js';
import { comparisonTable, eachRun, flatten, num, perRun, resultsOf, type SectionDef } from './section.js';

export const resultsSection: SectionDef = {
  id: 'results',
  title: 'Results',
  async build(ctx) {
    const values = ctx.runs.map(resultsOf);
    if (values.every((v) => Object.keys(v).length === 0)) return null;
    return comparisonTable(ctx, values, { spread: true });
  },
};

export const settingsSection: SectionDef = {
  id: 'settings',
  title: 'Settings and backend',
  async build(ctx) {
    const settings = ctx.runs.map((r) => {
      const flat = flatten(r.record.settings ?? {});
      // older records kept these beside the settings; the common record has them in its result
      for (const k of ['model', 'images', 'methods']) {
        const v = pickFirst(r.record, [k], ['result', k]);
        if (v !== undefined && (typeof v !== 'object' || Array.isArray(v)) && !(k in flat) && !(k === 'images' && Array.isArray(v))) flat[k] = v;
      }
      return flat;
    });
    const backend = ctx.runs.map((r) => {
      const b = r.record.backend;
      const out: Record<string, unknown> = {};
      if (typeof b === 'string') out.backend = b;
      else if (b && typeof b === 'object') {
        const o = b as Record<string, unknown>;
        out.backend = o.name;
        out['tfjs backend'] = o.tfjsName;
        out.threads = o.threads;
        out.simd = o.simd;
        const project = pickFirst(o, ['kernels', 'project'], ['projectKernels']);
        const native = pickFirst(o, ['kernels', 'native'], ['nativeKernels']);
        if (Array.isArray(project)) out['project kernels'] = project;
        if (Array.isArray(native)) out['native kernels'] = native;
      }
      const versions = r.record.versions;
      if (versions && typeof versions === 'object') for (const [k, v] of Object.entries(versions)) if (v !== null) out[k] = v;
      if (typeof r.record.dnnkit === 'string') out.dnnkit = r.record.dnnkit;
      if (Array.isArray(r.record.argv) && r.record.argv.length > 0) out.command = `dnnkit ${(r.record.argv as string[]).join(' ')}`;
      if (typeof r.record.started === 'string') out.started = r.record.started;
      const finished = r.record.ended ?? r.record.finishedAt;
      if (typeof finished === 'string') out.ended = finished;
      return out;
    });
    return `<h3>Settings the run used</h3>${comparisonTable(ctx, settings)}<h3>Backend and versions</h3>${comparisonTable(ctx, backend)}`;
  },
};


export const filesSection: SectionDef = {
  id: 'files',
  title: 'Files',
  async build(ctx) {
    const blocks = await eachRun(ctx, async (run) => {
      const recorded = (run.record.files && typeof run.record.files === 'object' ? run.record.files : {}) as Record<string, { bytes?: number; sha256?: string }>;
      const rows = await Promise.all(run.files.map(async (f) => {
        const st = await fsp.stat(path.join(run.dir, f)).catch(() => undefined);
        const sha = recorded[f]?.sha256;
        return `<tr><td>${esc(f)}</td><td class="num">${st ? esc(formatBytes(st.size)) : '-'}</td><td><code>${sha ? esc(sha.slice(0, 12)) : ''}</code></td></tr>`;
      }));
      return `<p class="note">${esc(run.dir)}${run.recordFile ? `, record ${esc(run.recordFile)}` : ', no run record found'}</p><details><summary>${run.files.length} files</summary><table><tr><th>file</th><th>size</th><th>SHA-256 (run record)</th></tr>${rows.join('')}</table></details>`;
    });
    return perRun(ctx, blocks);
  },
};

/** One line on a run for the page's summary. */
export function describeRun(run: RunFolder): string {
  const r = resultsOf(run);
  const bits: string[] = [];
  const pct = (k: string, name: string) => {
    if (num(r[k]) !== null) bits.push(`${name} ${(100 * (r[k] as number)).toFixed(2)}%`);
  };
  pct('testAccuracy', 'test accuracy');
  pct('devAccuracy', 'dev accuracy');
  if (num(r.epochs) !== null) bits.push(`${r.epochs} epoch${r.epochs === 1 ? '' : 's'}`);
  if (num(pick(run.record, 'settings', 'epochs')) !== null && num(r.epochs) === null) bits.push(`${pick(run.record, 'settings', 'epochs')} epochs`);
  if (num(r.images) !== null) bits.push(`${r.images} images`);
  const secs = num(r.wallSeconds) ?? num(r.seconds);
  if (secs !== null) bits.push(`${secs.toFixed(1)} s`);
  return `<b>${esc(run.command)}</b> in <code>${esc(run.dir)}</code>${bits.length ? `: ${esc(bits.join(', '))}` : ''}`;
}
