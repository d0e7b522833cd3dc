/**
 * Run reports: one self-contained HTML page per run folder (or several side by side) with the
 * settings, learning curves, confusion matrix, projections with hover tooltips, explanation
 * galleries and faithfulness curves, drawn by Vega-Lite inlined in the page. See docs/REPORTS.md.
 */
import * as path from 'node:path';
import { writeFileAtomic } from '../core/fsutil.js';
import { ChartSet, esc, finishPage, renderPage } from './html.js';
import { readRunFolder, type RunFolder } from './run_folder.js';
import { describeRun, POINT_CAP, SECTIONS, type SectionContext } from './sections.js';

export { POINT_CAP, SECTIONS } from './sections.js';
export { readRunFolder, type RunFolder } from './run_folder.js';

export const REPORT_HTML = 'report.html';

export interface ReportOptions {
  /** Most points drawn per projection (evenly sampled above it); default POINT_CAP (2,000). */
  pointCap?: number;
  /** Page title; default from the runs' commands. */
  title?: string;
}

/** Base names made unique ("seed1", "seed1 (2)") for legends and column heads. */
function nameRuns(runs: RunFolder[]): void {
  const seen = new Map<string, number>();
  for (const r of runs) {
    const n = (seen.get(r.name) ?? 0) + 1;
    seen.set(r.name, n);
    if (n > 1) r.name = `${r.name} (${n})`;
  }
}

/**
 * The run folders of `dirs`: a folder without a record of its own whose sub-folders hold run
 * records (`sst2 repeat`: seed-1/, seed-2/, ...) stands for those sub-folders, side by side.
 */
export async function expandRunDirs(dirs: string[]): Promise<RunFolder[]> {
  const out: RunFolder[] = [];
  for (const d of dirs) {
    const run = await readRunFolder(d);
    const children = [...new Set(run.files.filter((f) => /^[^/]+\/run\.json$/.test(f)).map((f) => f.split('/')[0]))]
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    if (run.recordFile === null && children.length > 0) {
      for (const c of children) out.push(await readRunFolder(path.join(run.dir, c)));
    } else {
      out.push(run);
    }
  }
  return out;
}

/** The HTML of the report on `runDirs` (one run folder, or several side by side). */
export async function buildReport(runDirs: string[], opts: ReportOptions = {}): Promise<string> {
  if (runDirs.length === 0) throw new Error('buildReport needs at least one run folder');
  const runs = await expandRunDirs(runDirs);
  nameRuns(runs);
  const ctx: SectionContext = { runs, charts: new ChartSet(), pointCap: opts.pointCap ?? POINT_CAP };
  const built: { id: string; title: string; html: string }[] = [];
  for (const s of SECTIONS) {
    // a file this section cannot make sense of costs the section, not the report
    const html = await s.build(ctx).catch((err: Error) => `<p class="chart-failed">This section could not be built: ${esc(err.message)}</p>`);
    if (html) built.push({ id: s.id, title: s.title, html });
  }
  const commands = [...new Set(runs.map((r) => r.command))];
  const title = opts.title ?? (runs.length === 1 ? `dnnkit ${runs[0].command}: ${runs[0].name}` : `dnnkit ${commands.join(' / ')}: ${runs.length} runs side by side`);
  const summary = `<section class="summary"><p>${runs.map(describeRun).join('<br>')}</p>`
    + `<nav>${built.map((s) => `<a href="#${s.id}">${esc(s.title)}</a>`).join('')}</nav></section>`;
  const body = summary + built.map((s) => `<section id="${s.id}"><h2>${esc(s.title)}</h2>${s.html}</section>`).join('\n');
  const subtitle = `Report written ${esc(new Date().toISOString().replace(/\.\d+Z$/, 'Z'))} by dnnkit report`;
  return finishPage(renderPage({ title, subtitle, body, charts: ctx.charts }));
}

/**
 * (Re)writes `report.html` in a run folder (atomically) and returns its path. Meant for the end
 * of every command: it reads only what the folder holds, so a command it does not know gets a
 * report with its settings and files.
 */
export async function writeReport(outDir: string, opts: ReportOptions = {}): Promise<string> {
  const file = path.join(outDir, REPORT_HTML);
  await writeFileAtomic(file, await buildReport([outDir], opts));
  return file;
}

/** Writes the report on several run folders (or one) to `outFile`. */
export async function writeCombinedReport(runDirs: string[], outFile: string, opts: ReportOptions = {}): Promise<string> {
  await writeFileAtomic(outFile, await buildReport(runDirs, opts));
  return outFile;
}
