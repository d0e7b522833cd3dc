/**
 * Sections of explanation runs: deletion/insertion faithfulness (explain-eval, explain-text),
 * word attributions (explain-text), and the galleries of gradcam / shap / explain with their
 * per-patch and per-cell maps.
 */
import * as path from 'node:path';
import { esc } from './html.js';
import { fileDataUri, pickFirst, readTable, type RunFolder, type Table } from './run_folder.js';
import { eachRun, fmt, num, perRun, type SectionContext, type SectionDef } from './section.js';
import { aucSpec, faithfulnessSpec, mapSpec, tokenSpec, type AucPoint, type FaithfulnessPoint, type MapCell, type TokenCell } from './specs.js';

/** explain-eval's curves.csv (method,curve,step,fraction,mean_probability[,se]) as chart points. */
async function faithfulnessPoints(run: RunFolder): Promise<FaithfulnessPoint[]> {
  const t = await readTable(run, 'curves.csv');
  if (!t || !['method', 'curve', 'fraction', 'mean_probability'].every((c) => t.columns.includes(c))) return [];
  const seCol = ['se', 'probability_se', 'mean_probability_se', 'sem'].find((c) => t.columns.includes(c));
  return t.rows.map((r) => {
    const p = num(r.mean_probability) ?? 0;
    const se = seCol ? num(r[seCol]) : null;
    return { run: run.name, method: String(r.method), curve: String(r.curve), fraction: num(r.fraction) ?? 0, probability: p, ...(se !== null ? { lo: p - se, hi: p + se } : {}) };
  });
}

/** AUC tables: explain-eval's auc.csv (deletion_auc_se) or explain-text's faithfulness.csv (deletion_se). */
const AUC_FILES = ['auc.csv', 'faithfulness.csv'];

async function aucTable(run: RunFolder): Promise<{ file: string; table: Table } | null> {
  for (const file of AUC_FILES) {
    const table = await readTable(run, file);
    if (table && table.columns.includes('method') && table.columns.includes('deletion_auc')) return { file, table };
  }
  return null;
}

async function aucPoints(run: RunFolder): Promise<AucPoint[]> {
  const t = (await aucTable(run))?.table;
  if (!t) return [];
  return t.rows.flatMap((r) => (['deletion', 'insertion'] as const).map((curve) => ({
    run: run.name, method: String(r.method), curve, auc: num(r[`${curve}_auc`]) ?? 0, se: num(r[`${curve}_auc_se`]) ?? num(r[`${curve}_se`]) ?? 0,
  })));
}

export const faithfulnessSection: SectionDef = {
  id: 'faithfulness',
  title: 'Faithfulness: deletion and insertion',
  async build(ctx) {
    const curves = (await eachRun(ctx, faithfulnessPoints)).flat();
    const aucs = (await eachRun(ctx, aucPoints)).flat();
    if (curves.length === 0 && aucs.length === 0) return null;
    const runs = new Set([...curves, ...aucs].map((p) => p.run)).size;
    const parts: string[] = [];
    if (curves.length > 0) {
      const bands = curves.some((p) => p.lo !== undefined);
      parts.push(ctx.charts.place(faithfulnessSpec(curves, runs), `Mean probability of the explained class as pixels are removed in order of attribution (deletion: lower is more faithful) or added to a blank image (insertion: higher is more faithful), RISE (Petsiuk et al. 2018). ${bands ? 'Bands: +-1 standard error over the images.' : 'curves.csv holds the mean curve only, so no bands are drawn here; the AUC chart below has the standard errors.'} Hover for the numbers.`));
    }
    if (aucs.length > 0) {
      parts.push(ctx.charts.place(aucSpec(aucs, runs), 'Area under each curve (auc.csv or faithfulness.csv), mean over the images or sentences with +-1 standard error.'));
      parts.push(...await eachRun(ctx, async (run) => {
        const t = (await aucTable(run))?.table;
        if (!t) return '';
        return `${runs > 1 ? `<h3>${esc(run.name)}</h3>` : ''}<table><tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>${t.rows.map((r) => `<tr>${t.columns.map((c) => `<td class="${typeof r[c] === 'number' ? 'num' : ''}">${esc(fmt(r[c]))}</td>`).join('')}</tr>`).join('')}</table>`;
      }));
    }
    return parts.join('');
  },
};

/** Per-image numbers of an explain / gradcam / shap record. */
function imageNumbers(img: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['label', 'classIndex', 'probability', 'layer', 'grid', 'baseline', 'efficiencyGap', 'vFull', 'vEmpty', 'evaluations', 'permutations', 'completenessGap']) {
    if (img[k] !== undefined && typeof img[k] !== 'object') out[k] = img[k];
  }
  const byMethod = img.byMethod;
  if (byMethod && typeof byMethod === 'object') {
    for (const [m, v] of Object.entries(byMethod as Record<string, Record<string, unknown>>)) {
      for (const [k, x] of Object.entries(v)) if (typeof x === 'number' && !(k in out)) out[`${m} ${k}`] = x;
    }
  }
  const phi = img.phi;
  const se = img.se;
  if (Array.isArray(phi) && phi.length > 0) {
    const sum = (phi as number[]).reduce((a, b) => a + b, 0);
    out['sum of phi'] = sum;
    if (Array.isArray(se) && se.length > 0) out['largest phi s.e.'] = Math.max(...(se as number[]));
  }
  return out;
}

/** Heatmaps from a run's per-image CSVs: `*.shap.csv` (patch,row,col,phi,se) and CAM grids (x0,x1,...). */
async function mapCharts(ctx: SectionContext, run: RunFolder, stem: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of run.files.filter((x) => x.startsWith(`${stem}.`) && x.endsWith('.csv'))) {
    const t = await readTable(run, f);
    if (!t) continue;
    const method = f.split('.').slice(-2, -1)[0];
    let cells: MapCell[] = [];
    if (['row', 'col', 'phi'].every((c) => t.columns.includes(c))) {
      cells = t.rows.map((r) => ({ row: num(r.row) ?? 0, col: num(r.col) ?? 0, value: num(r.phi) ?? 0, ...(num(r.se) !== null ? { se: num(r.se)! } : {}) }));
      out.push(ctx.charts.place(mapSpec(cells, { title: `${method}: phi per patch`, diverging: true }), `${esc(f)}: hover a patch for its Shapley value and standard error.`));
    } else if (t.columns.every((c) => /^x\d+$/.test(c))) {
      t.rows.forEach((r, i) => t.columns.forEach((c, j) => cells.push({ row: i, col: j, value: num(r[c]) ?? 0 })));
      out.push(ctx.charts.place(mapSpec(cells, { title: `${method}: map cells`, diverging: false }), `${esc(f)}: hover a cell for its value.`));
    }
  }
  return out;
}

/** The Shapley map from the record itself (explain writes no per-image CSV): phi and se per patch, the grid 'RxC'. */
function recordMap(ctx: SectionContext, img: Record<string, unknown>): string[] {
  const phi = pickFirst(img, ['byMethod', 'shap', 'phi'], ['phi']);
  const se = pickFirst(img, ['byMethod', 'shap', 'se'], ['se']);
  const grid = /^(\d+)x(\d+)$/.exec(String(pickFirst(img, ['byMethod', 'shap', 'grid'], ['grid']) ?? ''));
  if (!Array.isArray(phi) || !grid || Number(grid[1]) * Number(grid[2]) !== phi.length) return [];
  const cols = Number(grid[2]);
  const cells: MapCell[] = (phi as number[]).map((v, i) => ({ row: Math.floor(i / cols), col: i % cols, value: v, ...(Array.isArray(se) && typeof se[i] === 'number' ? { se: se[i] as number } : {}) }));
  return [ctx.charts.place(mapSpec(cells, { title: 'shap: phi per patch', diverging: true }), 'From the run record: hover a patch for its Shapley value and standard error.')];
}

/** Sentences drawn at most in the token section (the rest are in attributions.csv). */
const SENTENCE_CAP = 40;

export const tokenSection: SectionDef = {
  id: 'tokens',
  title: 'Token attributions',
  async build(ctx) {
    const blocks = await eachRun(ctx, async (run) => {
      const t = await readTable(run, 'attributions.csv');
      if (!t || !['sentence_id', 'token_index', 'token', 'method', 'value'].every((c) => t.columns.includes(c))) return null;
      const sentences = await readTable(run, 'sentences.csv');
      const ids = [...new Set(t.rows.map((r) => String(r.sentence_id)))];
      const parts: string[] = [];
      for (const id of ids.slice(0, SENTENCE_CAP)) {
        const cells: TokenCell[] = t.rows.filter((r) => String(r.sentence_id) === id).map((r) => ({
          position: num(r.token_index) ?? 0, token: String(r.token), method: String(r.method), value: num(r.value) ?? 0, ...(num(r.se) !== null ? { se: num(r.se)! } : {}),
        }));
        const info = sentences?.rows.filter((r) => String(r.sentence_id) === id) ?? [];
        const first = info[0];
        const head = first ? `${id}: P(positive) ${fmt(first.p_positive)}, predicted ${fmt(first.predicted)}, explained ${fmt(first.explained)}` : id;
        const gaps = info.filter((r) => r.gap !== '' && r.gap !== undefined).map((r) => `${r.method} efficiency gap ${fmt(r.gap)}`);
        parts.push(`<h3>${esc(head)}</h3>${ctx.charts.place(tokenSpec(cells), gaps.length ? esc(gaps.join('; ')) : undefined)}`);
      }
      const more = ids.length > SENTENCE_CAP ? `<p class="note">The first ${SENTENCE_CAP} of ${ids.length} sentences; attributions.csv has them all.</p>` : '';
      return `<p class="note">Each word coloured by its attribution to the explained class's log-odds (red for, blue against); hover a word for its value and standard error.</p>${parts.join('')}${more}`;
    });
    return perRun(ctx, blocks);
  },
};

/** Image files shown elsewhere or not explanation pictures. */
const NOT_GALLERY = /^(errors|curves|confusion)\.png$|^embed-.*\.png$/;

export const explanationSection: SectionDef = {
  id: 'explanations',
  title: 'Explanations',
  async build(ctx) {
    const blocks = await eachRun(ctx, async (run) => {
      // explain-text's sentence pictures are drawn interactively in the token section
      const tokensDrawn = run.files.includes('attributions.csv');
      const pngs = run.files.filter((f) => f.endsWith('.png') && !f.includes('/') && !NOT_GALLERY.test(f) && !(tokensDrawn && /^sentence-/.test(f)));
      if (pngs.length === 0) return null;
      // the per-image numbers: in the record's result (common run.json) or at its top (older records)
      const listed = pickFirst(run.record, ['result', 'images'], ['images']);
      const images = Array.isArray(listed) ? (listed as Record<string, unknown>[]) : [];
      const parts: string[] = [];
      for (const f of pngs) {
        const stem = f.split('.')[0];
        const img = images.find((i) => typeof i.image === 'string' && path.basename(i.image, path.extname(i.image)) === stem);
        const uri = await fileDataUri(run, f);
        if (!uri) continue;
        const numbers = img ? imageNumbers(img) : {};
        const table = Object.keys(numbers).length > 0
          ? `<table class="kv">${Object.entries(numbers).map(([k, v]) => `<tr><td>${esc(k)}</td><td class="${typeof v === 'number' ? 'num' : ''}">${esc(fmt(v))}</td></tr>`).join('')}</table>`
          : '';
        const maps = await mapCharts(ctx, run, stem);
        if (maps.length === 0 && img) maps.push(...recordMap(ctx, img));
        parts.push(`<h3>${esc(f)}</h3><div class="row gallery"><figure><img alt="${esc(f)}" src="${uri}"></figure><div>${table}${maps.length ? `<div class="row">${maps.join('')}</div>` : ''}</div></div>`);
      }
      return parts.length > 0 ? parts.join('') : null;
    });
    return perRun(ctx, blocks);
  },
};

