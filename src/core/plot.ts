/**
 * Charts: a Vega-Lite spec compiled by vega-lite, rendered to SVG by vega (headless), then to
 * PNG by sharp. Both files are written, atomically, so a figure can also be edited or embedded.
 */
import { writeFileAtomic } from './fsutil.js';
import { svgToPng } from './image.js';

/** A Vega-Lite specification (kept loose: vega-lite validates it). */
export type VegaLiteSpec = Record<string, unknown>;

/** Compiles and renders a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  // vega and vega-lite are ES modules with top-level await: load them lazily.
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const compiled = vl.compile({ background: 'white', config: { font: 'DejaVu Sans' }, ...spec } as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes `<base>.svg` and `<base>.png`; returns their paths. */
export async function writeChart(base: string, spec: VegaLiteSpec): Promise<{ svg: string; png: string }> {
  const svg = await renderSvg(spec);
  const png = await svgToPng(svg);
  await writeFileAtomic(`${base}.svg`, svg);
  await writeFileAtomic(`${base}.png`, png);
  return { svg: `${base}.svg`, png: `${base}.png` };
}
