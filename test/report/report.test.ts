/**
 * Run reports: built from real (tiny) runs of train-mnist, sst2 repeat and explain-eval, checked
 * as files (self-contained, the right sections, the point cap, the stated size) and in headless
 * Chromium from file:// (no console errors, no network requests, every chart draws the marks its
 * data calls for, hovering a projection point shows the sentence or the digit, zoom and the
 * colour switch work). Without /usr/bin/chromium or playwright-core the browser part is skipped
 * with the reason, unless DNNKIT_REQUIRE_BROWSER=1 (CI), which makes it a failure.
 * DNNKIT_REPORT_SCREENSHOTS=DIR keeps the screenshots (they are written under the test's temp folder).
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, runCli, runNode, sst2Subset, type CliResult } from '../helpers.js';
import { buildReport, POINT_CAP, writeReport } from '../../src/report/index.js';
import { encodeGreyPng } from '../../src/report/digits.js';
import { parseTable } from '../../src/report/run_folder.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let work = '';
let shots = '';
/** The runs every test reads, made once. */
let runs: { mnist: string; sst2Parent: string; sst2: string[]; evalRun: string; text: string | null };

function ok(res: CliResult, what: string): void {
  assert.equal(res.code, 0, `${what} failed (exit ${res.code}):\n${res.stderr.slice(-2000)}`);
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'dnnkit-report-'));
  shots = path.join(work, 'screenshots');
  mkdirSync(shots);
  const data = sst2Subset(work, { train: 300, dev: 100, test: 100 });
  runs = { mnist: path.join(work, 'mnist'), sst2Parent: path.join(work, 'sst2'), sst2: [], evalRun: path.join(work, 'eval'), text: null };
  const common = ['--quiet', '--backend', 'wasm'];
  const started = Date.now();
  const took = (what: string) => process.stderr.write(`# ${what} after ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  // the MNIST chain and the SST-2 seeds side by side (two processes)
  await Promise.all([
    (async () => {
      ok(await runCli(['train-mnist', '--epochs', '1', '--limit', '1000', '--embed-plot', 'pca', '--out', runs.mnist, ...common]), 'train-mnist');
      ok(await runCli(['explain-eval', '--model', runs.mnist, '--images', '4', '--methods', 'gradcam,shap,ig', '--samples', '8', '--out', runs.evalRun, ...common]), 'explain-eval');
      took('train-mnist + explain-eval');
    })(),
    (async () => {
      ok(await runCli(['sst2', '--data-dir', data, '--ensemble', '1', '--epochs', '1', '--adversarial', '0', '--embed-plot', 'umap', '--out', runs.sst2Parent, ...common, 'repeat', '--seeds', '1,2']), 'sst2 repeat');
      took('sst2 repeat');
      // explain-text, where this dnnkit has it: word attributions of two dev sentences
      const text = path.join(work, 'text');
      const res = await runCli(['explain-text', '--model', path.join(runs.sst2Parent, 'seed-1'), '--split', 'dev', '--data-dir', data, '--limit', '2', '--out', text, ...common]);
      if (res.code === 0) runs.text = text;
      else if (!/unknown command/.test(res.stderr)) ok(res, 'explain-text');
      took('explain-text');
    })(),
  ]);
  runs.sst2 = [path.join(runs.sst2Parent, 'seed-1'), path.join(runs.sst2Parent, 'seed-2')];
});

after(() => {
  const keep = process.env.DNNKIT_REPORT_SCREENSHOTS;
  if (keep && existsSync(shots)) {
    mkdirSync(keep, { recursive: true });
    for (const f of ['mnist.png', 'sst2.png', 'sst2-tooltip.png', 'mnist-tooltip.png', 'explain-eval.png', 'sst2-seeds.png', 'explain-text.png']) {
      if (existsSync(path.join(shots, f))) copyFileSync(path.join(shots, f), path.join(keep, f));
    }
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

/** `<div class="chart" data-expect="symbol=2000">` of a page: the marks each chart must draw. */
function expectations(html: string): { id: string; kind: string | null; expect: Record<string, number> }[] {
  return [...html.matchAll(/<div class="chart" id="([^"]+)" data-expect="([^"]*)"(?: data-kind="([^"]+)")?/g)].map((m) => ({
    id: m[1],
    kind: m[3] ?? null,
    expect: Object.fromEntries(m[2].split(';').filter(Boolean).map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)])),
  }));
}

/** Asserts that a page matches `re` (without printing the megabytes of the page when it does not). */
function has(html: string, re: RegExp, what = `the page has ${re}`): void {
  assert.ok(re.test(html), what);
}

/** Rows of a CSV file of a run. */
function csvRows(file: string): Record<string, string | number>[] {
  return parseTable(readFileSync(file, 'utf8')).rows;
}

/** Checks common to every page: one file, nothing fetched from elsewhere, the size it states is its size. */
function assertSelfContained(html: string, file?: string): void {
  // the page's own markup: the inlined libraries' code left out (it holds HTML templates of its own)
  const markup = html.replace(/(<script data-library="[^"]+">)[\s\S]*?<\/script>/g, '$1</script>');
  for (const lib of ['vega', 'vega-lite', 'vega-embed']) assert.ok(markup.includes(`<script data-library="${lib}"></script>`), `${lib} inlined`);
  assert.ok(markup.length < html.length - 500_000, 'the libraries are inlined, not linked');
  const external = /<(?:script|img|iframe|link|source|video|audio)\b[^>]*\b(?:src|href)="(?!data:)[^"]*"/i.exec(markup);
  assert.equal(external?.[0], undefined, 'an element loads from a URL');
  const stated = Number(/id="report-size" data-bytes="(\d+)"/.exec(html)?.[1]);
  assert.equal(stated, Buffer.byteLength(html), 'the page states its own size in bytes');
  if (file) assert.equal(statSync(file).size, stated);
}

test('train-mnist report: curves, confusion matrix, errors gallery, projection with digit images', async () => {
  const file = await writeReport(runs.mnist);
  assert.equal(file, path.join(runs.mnist, 'report.html'));
  const html = readFileSync(file, 'utf8');
  assertSelfContained(html, file);
  for (const id of ['results', 'curves', 'confusion', 'errors', 'projections', 'settings', 'files']) has(html, new RegExp(`<section id="${id}">`), `section ${id}`);
  const charts = expectations(html);
  const epochs = csvRows(path.join(runs.mnist, 'metrics.csv')).length;
  // loss and accuracy of train and val per epoch
  assert.equal(charts[0].expect.symbol, 4 * epochs);
  const confusion = csvRows(path.join(runs.mnist, 'confusion.csv'));
  assert.deepEqual(charts.slice(1, 3).map((c) => c.expect.rect), [confusion.length ** 2, confusion.length ** 2]);
  const projected = csvRows(path.join(runs.mnist, 'embed-pca.csv')).length;
  const projection = charts.find((c) => c.kind === 'projection');
  assert.equal(projection?.expect.symbol, Math.min(POINT_CAP, projected));
  assert.ok((html.match(/data:image\/png;base64,/g) ?? []).length >= Math.min(POINT_CAP, projected), 'a digit image per point');
  has(html, /trustworthiness/);
  has(html, new RegExp(`cap is ${POINT_CAP.toLocaleString('en-US')}`));
});

test('the point cap samples a projection evenly and says so on the page', async () => {
  const html = await buildReport([runs.mnist], { pointCap: 50 });
  const projection = expectations(html).find((c) => c.kind === 'projection');
  assert.equal(projection?.expect.symbol, 50);
  const total = csvRows(path.join(runs.mnist, 'embed-pca.csv')).length;
  has(html, new RegExp(`Showing 50 of ${total.toLocaleString('en-US')} points`));
});

test('sst2 report: the projection carries each sentence, its gold label and P(positive)', async () => {
  const html = await buildReport([runs.sst2[0]]);
  assertSelfContained(html);
  const specs = JSON.parse(/<script type="application\/json" id="dnnkit-specs">([\s\S]*?)<\/script>/.exec(html)![1]) as Record<string, { data?: { values: Record<string, unknown>[] } }>;
  const projection = expectations(html).find((c) => c.kind === 'projection')!;
  const points = specs[projection.id].data!.values;
  const features = readFileSync(path.join(runs.sst2[0], 'features.csv'), 'utf8').split('\n').slice(1).filter(Boolean).map((l) => l.split(',', 3));
  const data = path.join(work, 'data');
  const sentences = new Map<string, string[]>(['dev', 'test'].map((s) => [s, readFileSync(path.join(data, `${s}.tsv`), 'utf8').split('\n')]));
  assert.equal(points.length, Math.min(POINT_CAP, features.length));
  for (const p of points) {
    // the point's row of features.csv names the sentence: <split>-<row>
    const [id, , gold] = features[p.index as number];
    const [split, row] = id.split('-');
    const [sentence, label] = sentences.get(split)![Number(row)].split('\t');
    assert.equal(p.title, sentence.trim());
    assert.equal(p.label, label.trim() === '1' ? 'positive' : 'negative');
    assert.equal(gold, label.trim() === '1' ? 'positive' : 'negative', 'features.csv names the label');
    assert.ok(typeof p.probability === 'number' && p.probability >= 0 && p.probability <= 1, `P(positive) ${p.probability}`);
    assert.equal(p.predicted, (p.probability as number) >= 0.5 ? 'positive' : 'negative', 'the prediction and the probability agree');
  }
});

test('explain-eval report: deletion/insertion curves and AUC with standard errors', async () => {
  const file = await writeReport(runs.evalRun);
  const html = readFileSync(file, 'utf8');
  assertSelfContained(html, file);
  has(html, /<section id="faithfulness">/);
  const charts = expectations(html);
  const curves = csvRows(path.join(runs.evalRun, 'curves.csv'));
  const series = new Set(curves.map((r) => `${r.method}|${r.curve}`)).size;
  assert.equal(charts[0].expect.line, series);
  const auc = csvRows(path.join(runs.evalRun, 'auc.csv'));
  assert.equal(charts[1].expect.rule, 2 * auc.length);
});

test('explain-text report: one chart per sentence, a cell per token and method', async (t) => {
  if (!runs.text) {
    t.skip('this dnnkit has no explain-text command');
    return;
  }
  const html = await buildReport([runs.text]);
  assertSelfContained(html);
  has(html, /<section id="tokens">/);
  const rows = csvRows(path.join(runs.text, 'attributions.csv'));
  const charts = expectations(html).filter((c) => c.kind === 'tokens');
  const ids = [...new Set(rows.map((r) => r.sentence_id))];
  assert.equal(charts.length, ids.length);
  assert.deepEqual(charts.map((c) => c.expect.rect), ids.map((id) => rows.filter((r) => r.sentence_id === id).length));
});

test('a folder of an unknown command, or with no record, still gets a report (settings and files)', async (t) => {
  const dir = mkdtempSync(path.join(work, 'odd-'));
  writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ command: 'frobnicate', settings: { knob: 7 }, result: { score: 0.5 } }));
  writeFileSync(path.join(dir, 'notes.txt'), 'hello');
  writeFileSync(path.join(dir, 'metrics.csv'), 'nonsense\n');
  writeFileSync(path.join(dir, 'embed-bad.csv'), 'a,b\n1,2\n');
  const html = readFileSync(await writeReport(dir), 'utf8');
  has(html, /frobnicate/);
  has(html, /knob/);
  has(html, /notes\.txt/);
  assert.equal(expectations(html).length, 0, 'no chart from files it cannot read');
  const empty = mkdtempSync(path.join(work, 'empty-'));
  has(readFileSync(await writeReport(empty), 'utf8'), /no run record found/);
  const broken = mkdtempSync(path.join(work, 'broken-'));
  writeFileSync(path.join(broken, 'run.json'), '{"command": ');
  await assert.rejects(writeReport(broken), /not valid JSON/);
  t.diagnostic('unknown command, empty folder and broken record handled');
});

test('encodeGreyPng writes a PNG that sharp decodes to the same pixels', async () => {
  const pixels = Uint8Array.from({ length: 5 * 3 }, (_, i) => i * 17);
  const png = encodeGreyPng(pixels, 5, 3);
  const { default: sharp } = await import('sharp');
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.width, meta.height, meta.channels, meta.depth], [3, 5, 1, 'uchar']);
  const { data } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual(Array.from(data), Array.from(pixels));
});

/** Runs the report command as the CLI does (registering it when src/cli.ts does not yet). */
function runReportCli(args: string[]): Promise<CliResult> {
  const script = path.join(work, 'report-cli.mjs');
  writeFileSync(script, `
import { buildProgram } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist/src/cli.js')).href)};
import { register } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist/src/report/command.js')).href)};
const program = buildProgram();
if (!program.commands.some((c) => c.name() === 'report')) register(program);
try { await program.parseAsync(process.argv); } catch (e) { process.exitCode = e.exitCode ?? 1; }
`);
  return runNode([script, ...args]);
}

test('dnnkit report: one folder in place, several side by side into --out, a missing folder is a usage error', async () => {
  const out = path.join(work, 'side-by-side');
  const res = await runReportCli(['report', runs.sst2Parent, '--out', out, '--json']);
  ok(res, 'dnnkit report (sst2 repeat folder)');
  const summary = JSON.parse(res.stdout.trim().split('\n').pop()!) as { report: string; bytes: number };
  assert.equal(summary.report, path.join(out, 'report.html'));
  const html = readFileSync(summary.report, 'utf8');
  assert.equal(summary.bytes, Buffer.byteLength(html));
  // the repeat folder stands for its seeds: one projection per seed, the seeds as columns
  assert.equal(expectations(html).filter((c) => c.kind === 'projection').length, runs.sst2.length);
  has(html, /<th>seed-1<\/th><th>seed-2<\/th><th>mean \+- s\.d\.<\/th>/);
  ok(await runReportCli(['report', runs.evalRun, '--quiet']), 'dnnkit report (one folder)');
  assert.ok(existsSync(path.join(runs.evalRun, 'report.html')));
  const missing = await runReportCli(['report', path.join(work, 'no-such-run')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /is not a folder/);
});

// ---------------------------------------------------------------------------------------------
// In the browser

/** The parts of playwright-core this test uses. */
interface Page {
  on(event: 'console', fn: (m: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', fn: (e: Error) => void): void;
  on(event: 'request', fn: (r: { url(): string }) => void): void;
  goto(url: string): Promise<unknown>;
  waitForSelector(sel: string, opts?: { timeout?: number; state?: string }): Promise<unknown>;
  evaluate<T>(fn: string): Promise<T>;
  mouse: { move(x: number, y: number): Promise<void>; wheel(dx: number, dy: number): Promise<void> };
  locator(sel: string): Locator;
  screenshot(opts: { path: string; fullPage?: boolean; clip?: { x: number; y: number; width: number; height: number } }): Promise<unknown>;
  close(): Promise<void>;
}
interface Locator {
  first(): Locator;
  nth(i: number): Locator;
  locator(sel: string): Locator;
  boundingBox(): Promise<{ x: number; y: number; width: number; height: number } | null>;
  scrollIntoViewIfNeeded(): Promise<void>;
  innerHTML(): Promise<string>;
  innerText(): Promise<string>;
  click(): Promise<void>;
  count(): Promise<number>;
  screenshot(opts: { path: string }): Promise<unknown>;
}
interface Browser {
  newPage(opts: { viewport: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}

/** Headless Chromium, or null after skipping the test with the reason (a failure under DNNKIT_REQUIRE_BROWSER=1). */
async function launchBrowser(t: TestContext): Promise<Browser | null> {
  let why: string | null = null;
  let chromium: { launch(o: object): Promise<Browser> } | undefined;
  if (!existsSync(CHROMIUM)) why = `no browser at ${CHROMIUM} (apt-get install chromium)`;
  else {
    try {
      const name = 'playwright-core'; // not a dependency of dnnkit itself: a devDependency of its tests
      chromium = ((await import(name)) as { chromium: typeof chromium }).chromium;
    } catch {
      why = 'playwright-core is not installed (npm install --no-save playwright-core)';
    }
  }
  if (why) {
    if (process.env.DNNKIT_REQUIRE_BROWSER === '1') throw new Error(`${why}; DNNKIT_REQUIRE_BROWSER=1 makes this a failure`);
    t.skip(why);
    return null;
  }
  return chromium!.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** Loads a report from file:// and checks what every page must do; returns the page for more. */
async function openReport(browser: Browser, file: string, problems: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => { if (!/^(file|data|blob):/.test(r.url())) problems.push(`network request: ${r.url()}`); });
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-charts-done="yes"]', { timeout: 30_000 });
  return page;
}

/** Marks drawn by each chart, counted in its SVG (items of role-mark groups, by Vega mark type). */
async function renderedMarks(page: Page): Promise<{ id: string; expect: string; counts: Record<string, number>; rendered: boolean }[]> {
  return page.evaluate(`Array.from(document.querySelectorAll('.chart')).map((el) => {
    const counts = {};
    for (const type of ['symbol', 'line', 'rect', 'text', 'area', 'rule']) {
      counts[type] = el.querySelectorAll('svg g.mark-' + type + '.role-mark > *').length;
    }
    return { id: el.id, expect: el.getAttribute('data-expect'), counts, rendered: el.getAttribute('data-rendered') === 'yes' && !!el.querySelector('svg') };
  })`);
}

function assertMarks(marks: Awaited<ReturnType<typeof renderedMarks>>, what: string): void {
  assert.ok(marks.length > 0, `${what}: no charts`);
  for (const m of marks) {
    assert.ok(m.rendered, `${what} ${m.id}: not rendered as SVG`);
    for (const kv of m.expect.split(';').filter(Boolean)) {
      const [type, n] = kv.split('=');
      assert.equal(m.counts[type], Number(n), `${what} ${m.id}: ${type} marks`);
    }
  }
}

/** Hovers the point nearest the middle of the first projection and returns the tooltip's HTML. */
async function hoverPoint(page: Page): Promise<string> {
  const chart = page.locator('.chart[data-kind="projection"]').first();
  await chart.scrollIntoViewIfNeeded();
  const nth = await page.evaluate<number>(`(() => {
    const el = document.querySelector('.chart[data-kind="projection"]');
    const plot = el.querySelector('svg g.mark-symbol.role-mark').getBoundingClientRect();
    const cx = plot.left + plot.width / 2, cy = plot.top + plot.height / 2;
    let best = 0, bestD = Infinity;
    el.querySelectorAll('svg g.mark-symbol.role-mark > path').forEach((p, i) => {
      const b = p.getBoundingClientRect();
      const d = (b.left + b.width / 2 - cx) ** 2 + (b.top + b.height / 2 - cy) ** 2;
      if (d < bestD) { bestD = d; best = i; }
    });
    return best;
  })()`);
  const box = await chart.locator('svg g.mark-symbol.role-mark > path').nth(nth).boundingBox();
  assert.ok(box, 'the point has a place on the page');
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForSelector('#vg-tooltip-element.visible', { timeout: 5000 });
  return page.locator('#vg-tooltip-element').innerHTML();
}

/** A screenshot of the first projection and its open tooltip (the tooltip may stick out of the chart). */
async function screenshotWithTooltip(page: Page, file: string): Promise<void> {
  const a = (await page.locator('.chart[data-kind="projection"]').first().boundingBox())!;
  const b = (await page.locator('#vg-tooltip-element').boundingBox())!;
  const x = Math.max(0, Math.min(a.x, b.x) - 8);
  const y = Math.max(0, Math.min(a.y, b.y) - 8);
  await page.screenshot({ path: file, clip: { x, y, width: Math.max(a.x + a.width, b.x + b.width) + 8 - x, height: Math.max(a.y + a.height, b.y + b.height) + 8 - y } });
}

test('in headless Chromium: each kind of report loads offline with no errors, draws every chart, and its tooltips work', async (t) => {
  const browser = await launchBrowser(t);
  if (!browser) return;
  try {
    const pages: Record<string, string> = {
      mnist: await writeReport(runs.mnist),
      sst2: await writeReport(runs.sst2[0]),
      'explain-eval': await writeReport(runs.evalRun),
      'sst2-seeds': await writeReport(runs.sst2Parent),
      ...(runs.text ? { 'explain-text': await writeReport(runs.text) } : {}),
    };
    for (const [kind, file] of Object.entries(pages)) {
      const problems: string[] = [];
      const page = await openReport(browser, file, problems);
      assertMarks(await renderedMarks(page), kind);
      if (kind === 'sst2') {
        const tip = await hoverPoint(page);
        // a sentence of the data as the heading, then gold label, prediction and probability
        const heading = /<h2>([^<]+)<\/h2>/.exec(tip)?.[1];
        const data = path.join(work, 'data');
        const all = ['dev', 'test'].flatMap((s) => readFileSync(path.join(data, `${s}.tsv`), 'utf8').split('\n').map((l) => l.split('\t')[0].trim()));
        const unescape = (s: string) => s.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
        assert.ok(heading && all.includes(unescape(heading)), `tooltip heading is a sentence of the data: ${heading}`);
        assert.match(tip, /gold label<\/td><td class="value">(positive|negative)</);
        assert.match(tip, /P\(positive\)<\/td><td class="value">[01]\.\d{3}</);
        await screenshotWithTooltip(page, path.join(shots, 'sst2-tooltip.png'));
        // zoom: the wheel moves the points
        const point = page.locator('.chart[data-kind="projection"] svg g.mark-symbol.role-mark > path').nth(3);
        const before = (await point.boundingBox())!;
        await page.mouse.wheel(0, -300);
        await page.waitForSelector('#vg-tooltip-element.visible', { state: 'hidden', timeout: 5000 }).catch(() => undefined);
        const afterBox = (await point.boundingBox())!;
        assert.notDeepEqual([afterBox.x, afterBox.y], [before.x, before.y], 'scrolling zooms the projection');
        // colour by correctness: the legend switches to yes/no
        await page.locator('.chart[data-kind="projection"] input[type="radio"][value="correct"]').first().click();
        const legend = await page.evaluate<string[]>(`Array.from(document.querySelector('.chart[data-kind="projection"]').querySelectorAll('g.role-legend-label text')).map((e) => e.textContent)`);
        assert.ok(legend.length > 0 && legend.every((l) => l === 'yes' || l === 'no'), `legend after colouring by correctness: ${legend}`);
      }
      if (kind === 'explain-text') {
        // a word's cell: its token, method and value
        const cell = page.locator('.chart[data-kind="tokens"] svg g.mark-rect.role-mark > path').first();
        await cell.scrollIntoViewIfNeeded();
        const box = (await cell.boundingBox())!;
        await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
        await page.waitForSelector('#vg-tooltip-element.visible', { timeout: 5000 });
        const tip = await page.locator('#vg-tooltip-element').innerHTML();
        assert.match(tip, /token<\/td><td class="value">[^<]+</);
        assert.match(tip, /value<\/td><td class="value">-?\d/);
      }
      if (kind === 'mnist') {
        const tip = await hoverPoint(page);
        assert.match(tip, /<img src="data:image\/png;base64,[A-Za-z0-9+/=]+">/, 'the digit image');
        assert.match(tip, /gold label<\/td><td class="value">\d</);
        assert.match(tip, /predicted<\/td><td class="value">\d</);
        await screenshotWithTooltip(page, path.join(shots, 'mnist-tooltip.png'));
      }
      await page.screenshot({ path: path.join(shots, `${kind}.png`), fullPage: true });
      assert.ok(statSync(path.join(shots, `${kind}.png`)).size > 10_000, `${kind} screenshot written`);
      assert.deepEqual(problems, [], `${kind}: console errors or network requests`);
      await page.close();
    }
    t.diagnostic(`screenshots in ${shots} (set DNNKIT_REPORT_SCREENSHOTS=DIR to keep them)`);
  } finally {
    await browser.close();
  }
});
