/**
 * The page: one HTML file with vega, vega-lite and vega-embed inlined (read from node_modules at
 * run time), the chart specs as JSON, images as data: URIs. Opened from file:// it makes no
 * network request: nothing on the page names a URL other than data: and the specs' $schema
 * (an identifier vega never fetches).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Chart } from './specs.js';

/** The browser bundles, in load order (vega-lite and vega-embed find `vega` as a global). */
const LIBRARIES = [
  { pkg: 'vega', file: 'build/vega.min.js' },
  { pkg: 'vega-lite', file: 'build/vega-lite.min.js' },
  { pkg: 'vega-embed', file: 'build/vega-embed.min.js' },
] as const;

/** A library's minified browser bundle and version; an Error that says what to install when it is missing. */
function readLibrary(pkg: string, file: string): { code: string; version: string } {
  // node_modules folders as require would search them (the packages' exports maps hide package.json and build/)
  const dir = (createRequire(import.meta.url).resolve.paths(pkg) ?? []).map((p) => path.join(p, pkg)).find((d) => existsSync(path.join(d, file)));
  if (!dir) throw new Error(`the report needs the npm package ${pkg} (${file}), which is not installed; run npm install ${pkg}`);
  const version = (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  return { code: readFileSync(path.join(dir, file), 'utf8'), version };
}

/** Escapes text for HTML element content and attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that is safe inside a <script> element (no `</script>`, no `<!--`). */
function scriptJson(x: unknown): string {
  return JSON.stringify(x).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** JavaScript code that is safe inside a <script> element. */
function scriptCode(code: string): string {
  return code.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** Collects the charts of a page and gives each a placeholder element. */
export class ChartSet {
  readonly charts = new Map<string, Chart>();

  /** The placeholder of `chart` (rendered by the page's script), with its expected marks as a data attribute. */
  place(chart: Chart, caption?: string): string {
    const id = `chart-${this.charts.size + 1}`;
    this.charts.set(id, chart);
    const expect = Object.entries(chart.expect).map(([k, v]) => `${k}=${v}`).join(';');
    return `<figure class="chart-box"><div class="chart" id="${id}" data-expect="${esc(expect)}"${chart.kind ? ` data-kind="${esc(chart.kind)}"` : ''}></div>${caption ? `<figcaption>${caption}</figcaption>` : ''}</figure>`;
  }
}

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
header { background: #23395d; color: white; padding: 14px 24px; }
header h1 { margin: 0; font-size: 20px; }
header p { margin: 4px 0 0; opacity: 0.85; font-size: 13px; }
main { padding: 8px 24px 40px; max-width: 1500px; }
section { background: white; border: 1px solid #e3e3e8; border-radius: 6px; padding: 12px 18px; margin: 16px 0; }
section h2 { margin: 0 0 8px; font-size: 17px; }
section h3 { margin: 12px 0 6px; font-size: 14px; }
nav { font-size: 13px; margin: 10px 0; }
nav a { margin-right: 12px; color: #23395d; }
.note { color: #5a5a66; font-size: 12.5px; }
.summary { font-size: 15px; }
.row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.run-col { flex: 1 1 0; min-width: 320px; }
.run-col > h3 { border-bottom: 1px solid #eee; }
figure { margin: 0; max-width: 100%; }
.chart { max-width: 100%; overflow-x: auto; }
figcaption { font-size: 12px; color: #5a5a66; max-width: 560px; }
table { border-collapse: collapse; font-size: 12.5px; margin: 4px 0 8px; }
th, td { border-bottom: 1px solid #ececf0; padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
th { font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.diff { background: #fff6d6; }
.kv td:first-child { color: #5a5a66; white-space: nowrap; }
.kv td.num { text-align: left; }
.gallery img { max-width: 100%; border: 1px solid #eee; }
.gallery figure { max-width: 720px; }
.chart-failed { color: #b00020; }
details summary { cursor: pointer; color: #23395d; }
.vega-bindings { font-size: 12px; margin: 2px 0 6px; }
.vega-bindings label { margin-right: 8px; }
#vg-tooltip-element { max-width: 440px; font-size: 12px; }
#vg-tooltip-element h2 { font-size: 13px; font-weight: 500; white-space: normal; line-height: 1.35; margin: 0 0 6px; }
#vg-tooltip-element img { width: 84px; height: 84px; image-rendering: pixelated; border: 1px solid #ccc; display: block; margin-bottom: 4px; }
#vg-tooltip-element td.value { white-space: normal; }
`;

/** Renders every chart with the SVG renderer; a failure is shown in place and logged. */
const BOOT = `
(function () {
  var specs = JSON.parse(document.getElementById('dnnkit-specs').textContent);
  var pending = Object.keys(specs).map(function (id) {
    var el = document.getElementById(id);
    return vegaEmbed(el, specs[id], { renderer: 'svg', actions: false, tooltip: { theme: 'light' } })
      .then(function () { el.setAttribute('data-rendered', 'yes'); })
      .catch(function (err) {
        el.className += ' chart-failed';
        el.textContent = 'This chart could not be drawn: ' + err;
        console.error('dnnkit report: chart ' + id + ': ' + err);
      });
  });
  Promise.all(pending).then(function () { document.body.setAttribute('data-charts-done', 'yes'); });
})();
`;

/** The whole page. `body` is HTML; `sizeNote` is a placeholder replaced with the file size by `finishPage`. */
export function renderPage(opts: { title: string; subtitle: string; body: string; charts: ChartSet }): string {
  const libs = LIBRARIES.map((l) => ({ ...l, ...readLibrary(l.pkg, l.file) }));
  const specs = Object.fromEntries([...opts.charts.charts].map(([id, c]) => [id, c.spec]));
  const versions = libs.map((l) => `${l.pkg} ${l.version}`).join(', ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="dnnkit report">
<title>${esc(opts.title)}</title>
<style>${CSS}</style>
${libs.map((l) => `<script data-library="${l.pkg}">${scriptCode(l.code)}</script>`).join('\n')}
</head>
<body>
<header><h1>${esc(opts.title)}</h1><p>${opts.subtitle}</p></header>
<main>
${opts.body}
<p class="note">One self-contained file: charts drawn by ${esc(versions)} (inlined), images embedded; it makes no network request and opens from disk. ${SIZE_PLACEHOLDER}</p>
</main>
<script type="application/json" id="dnnkit-specs">${scriptJson(specs)}</script>
<script>${BOOT}</script>
</body>
</html>
`;
}

export const SIZE_PLACEHOLDER = '<!--dnnkit:size-->';

/** "1.2 MB", "830 kB". */
export function formatBytes(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} kB`;
  return `${n} bytes`;
}

/** Writes the page's own size into it: the placeholder becomes "This file: 2.4 MB (2,412,345 bytes)." */
export function finishPage(html: string): string {
  let size = Buffer.byteLength(html);
  for (let i = 0; i < 4; i++) {
    const text = `This file: ${formatBytes(size)} (${size.toLocaleString('en-US')} bytes).`;
    const out = html.replace(SIZE_PLACEHOLDER, `<span id="report-size" data-bytes="${size}">${text}</span>`);
    const actual = Buffer.byteLength(out);
    if (actual === size) return out;
    size = actual;
  }
  return html.replace(SIZE_PLACEHOLDER, '');
}
