/**
 * Rendering of explanations, apart from the maths (as pytorch-grad-cam's show_cam_on_image is
 * apart from its CAM classes): colour maps from d3-scale-chromatic, overlays blended on the
 * image, and figures composed as SVG (titles, captions, patch grid lines, colour bars) rendered
 * to PNG by sharp. Nothing here computes an explanation.
 */
import sharp from 'sharp';
import { interpolateRdBu, interpolateTurbo } from 'd3-scale-chromatic';
import { rgb } from 'd3-color';
import type { RgbImage } from '../core/image.js';
import { svgToPng } from '../core/image.js';

/** A 256-entry RGB lookup table of a d3 interpolator over [0, 1]. */
function lut(interpolate: (t: number) => string): Uint8Array {
  const table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const c = rgb(interpolate(i / 255));
    table[i * 3] = c.r;
    table[i * 3 + 1] = c.g;
    table[i * 3 + 2] = c.b;
  }
  return table;
}

const TURBO = lut(interpolateTurbo);
/** Diverging: 0 -> blue, 0.5 -> white, 1 -> red (RdBu reversed, so positive = red). */
const BLUE_WHITE_RED = lut((t) => interpolateRdBu(1 - t));

function lutIndex(t: number): number {
  return Math.max(0, Math.min(255, Math.round(t * 255)));
}

function luma(d: Uint8Array, p: number): number {
  return 0.299 * d[p * 3] + 0.587 * d[p * 3 + 1] + 0.114 * d[p * 3 + 2];
}

/**
 * A pixel the model never saw (outside its centre crop): a pale, low-contrast grey of the photo
 * (grey 150..240). It must not read as "no evidence": turbo(0) is dark blue and the diverging
 * map's 0 is white over a grey image, and both are stronger than this wash; the figure also
 * hatches the area and outlines the crop (renderFigure).
 */
function unseen(out: Uint8Array, image: Uint8Array, p: number): void {
  const v = Math.round(150 + 0.35 * luma(image, p));
  out[p * 3] = out[p * 3 + 1] = out[p * 3 + 2] = v;
}

/** The image with the pixels outside `covered` (those the model never saw) drawn pale grey. */
export function dimOutside(image: RgbImage, covered: { x: number; y: number; width: number; height: number }): RgbImage {
  const out = Uint8Array.from(image.data);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if (x < covered.x || x >= covered.x + covered.width || y < covered.y || y >= covered.y + covered.height) unseen(out, image.data, y * image.width + x);
    }
  }
  return { data: out, width: image.width, height: image.height };
}

/**
 * The image with a Grad-CAM heat map blended on it: (1 - alpha) image + alpha turbo(map).
 * @param map [height * width] values in [0, 1] at the image's resolution; NaN = not seen by the
 *   model (outside its window), drawn as a pale grey
 */
export function camOverlay(image: RgbImage, map: Float32Array, alpha = 0.5): RgbImage {
  const n = image.width * image.height;
  if (map.length !== n) throw new Error(`camOverlay: map has ${map.length} values for a ${image.width}x${image.height} image`);
  const out = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    if (Number.isNaN(map[p])) {
      unseen(out, image.data, p);
      continue;
    }
    const k = lutIndex(map[p]) * 3;
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round((1 - alpha) * image.data[p * 3 + c] + alpha * TURBO[k + c]);
  }
  return { data: out, width: image.width, height: image.height };
}

/**
 * Patch Shapley values painted over a grey version of the image: each patch gets the diverging
 * colour of phi / maxAbs (blue negative, white zero, red positive).
 * @param patchOfPixel patch index per pixel [height * width]; -1 (or a NaN value) = not seen by the
 *   model, drawn as a pale grey
 */
export function shapleyOverlay(image: RgbImage, phi: ArrayLike<number>, patchOfPixel: Int32Array, maxAbs: number, alpha = 0.65): RgbImage {
  const n = image.width * image.height;
  const out = new Uint8Array(n * 3);
  const scale = maxAbs > 0 ? maxAbs : 1;
  for (let p = 0; p < n; p++) {
    const d = image.data;
    const v = patchOfPixel[p] < 0 ? NaN : phi[patchOfPixel[p]];
    if (Number.isNaN(v)) {
      unseen(out, d, p);
      continue;
    }
    const grey = luma(d, p);
    const k = lutIndex(0.5 + 0.5 * (v / scale)) * 3;
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round((1 - alpha) * grey + alpha * BLUE_WHITE_RED[k + c]);
  }
  return { data: out, width: image.width, height: image.height };
}

/** Escapes text for SVG. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A colour bar beside a panel. */
export interface ColourBar {
  kind: 'turbo' | 'diverging';
  min: number;
  max: number;
  /** What the colour means, with units. */
  label: string;
}

/** A rectangle in an image's pixel coordinates (continuous: pixel x covers [x, x + 1)). */
export interface ImageRect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** One panel of a figure: an image with a caption, optional grid lines and colour bar. */
export interface Panel {
  image: RgbImage;
  caption: string;
  colourBar?: ColourBar;
  /**
   * Draw an R x C grid over the panel: at `xs` (cols + 1 boundaries) and `ys` (rows + 1) in image
   * pixels when given, else over the whole image as patchIndexMap splits it (column c starts at
   * ceil(c W / C)).
   */
  grid?: { rows: number; cols: number; xs?: readonly number[]; ys?: readonly number[] };
  /** Text per grid cell (row-major), e.g. the Shapley values. */
  cellText?: string[];
  /**
   * The part of the image the model saw (its input's window), when it is not the whole image: the
   * rest is hatched and the window outlined.
   */
  window?: ImageRect;
}

const PANEL = 260; // shorter side of a panel, SVG units (rendered at 2x) ...
const PANEL_MAX = 420; // ... unless the longer side would exceed this (wide panoramas)
const BAR_W = 14;

/** SVG units per image pixel of a panel: the shorter side PANEL, the longer at most PANEL_MAX. */
function panelScale(width: number, height: number): number {
  return Math.min(PANEL / Math.min(width, height), PANEL_MAX / Math.max(width, height));
}

/** Two significant digits, no trailing zeros ("0.0089", "-1.5", "120"). */
export function formatValue(v: number): string {
  if (v === 0) return '0';
  return Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(2)).toString();
}

function barTicks(bar: ColourBar): number[] {
  return bar.kind === 'diverging' ? [bar.min, bar.min / 2, 0, bar.max / 2, bar.max] : [bar.min, (bar.min + bar.max) / 2, bar.max];
}

/** Width the colour bar takes beside a panel: bar, tick labels, rotated label. */
function barSpace(bar: ColourBar): number {
  const chars = Math.max(...barTicks(bar).map((v) => formatValue(v).length));
  return BAR_W + 10 + chars * 6.3 + 26;
}

/** Embeds an RGB image as a PNG data URI, resized to (w, h) device pixels. */
async function dataUri(img: RgbImage, w: number, h: number): Promise<string> {
  const small = img.width < w || img.height < h;
  const png = await sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(w, h, { fit: 'fill', kernel: small ? 'nearest' : 'lanczos3' })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

function colourBarSvg(bar: ColourBar, x: number, y: number, h: number, id: string): string {
  const stops: string[] = [];
  for (let i = 0; i <= 20; i++) {
    const t = i / 20;
    const table = bar.kind === 'turbo' ? TURBO : BLUE_WHITE_RED;
    const k = lutIndex(t) * 3;
    stops.push(`<stop offset="${t}" stop-color="rgb(${table[k]},${table[k + 1]},${table[k + 2]})"/>`);
  }
  const ticks = barTicks(bar);
  const tickSvg = ticks.map((v) => {
    const ty = y + h - ((v - bar.min) / (bar.max - bar.min || 1)) * h;
    return `<line x1="${x + BAR_W}" x2="${x + BAR_W + 4}" y1="${ty}" y2="${ty}" stroke="#333"/>` +
      `<text x="${x + BAR_W + 6}" y="${ty + 3.5}" font-size="10">${xmlEscape(formatValue(v))}</text>`;
  }).join('');
  const lx = x + barSpace(bar) - 12;
  const ly = y + h / 2;
  return `<defs><linearGradient id="${id}" x1="0" y1="1" x2="0" y2="0">${stops.join('')}</linearGradient></defs>` +
    `<rect x="${x}" y="${y}" width="${BAR_W}" height="${h}" fill="url(#${id})" stroke="#333" stroke-width="0.5"/>` + tickSvg +
    `<text x="${lx}" y="${ly}" font-size="10.5" text-anchor="middle" transform="rotate(-90 ${lx} ${ly})">${xmlEscape(bar.label)}</text>`;
}

/**
 * Composes panels side by side under a title (and an optional subtitle) and renders to PNG.
 */
export async function renderFigure(panels: readonly Panel[], title: string, subtitle?: string): Promise<Buffer> {
  return svgToPng(await figureSvg(panels, title, subtitle));
}

/** The SVG document of `renderFigure` (images embedded as PNG data URIs). */
export async function figureSvg(panels: readonly Panel[], title: string, subtitle?: string): Promise<string> {
  const margin = 14;
  const titleH = subtitle ? 50 : 32;
  const captionH = 34;
  const parts: string[] = [];
  let x = margin;
  let maxH = 0;
  let hatched = false;
  for (let i = 0; i < panels.length; i++) {
    const p = panels[i];
    const s = panelScale(p.image.width, p.image.height);
    const w = Math.round(p.image.width * s);
    const h = Math.round(p.image.height * s);
    const y = titleH;
    const sx = w / p.image.width; // SVG units per image pixel (w, h are rounded)
    const sy = h / p.image.height;
    maxH = Math.max(maxH, h);
    parts.push(`<image x="${x}" y="${y}" width="${w}" height="${h}" preserveAspectRatio="none" href="${await dataUri(p.image, w * 2, h * 2)}"/>`);
    if (p.window) {
      parts.push(windowSvg(p.window, x, y, w, h, sx, sy));
      hatched = true;
    }
    parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="#444" stroke-width="0.8"/>`);
    if (p.grid) {
      const { rows, cols } = p.grid;
      const xs = p.grid.xs ?? Array.from({ length: cols + 1 }, (_, c) => Math.ceil((c * p.image.width) / cols));
      const ys = p.grid.ys ?? Array.from({ length: rows + 1 }, (_, r) => Math.ceil((r * p.image.height) / rows));
      const [gx0, gx1, gy0, gy1] = [x + xs[0] * sx, x + xs[cols] * sx, y + ys[0] * sy, y + ys[rows] * sy];
      for (let r = 1; r < rows; r++) {
        const gy = y + ys[r] * sy;
        parts.push(`<line x1="${gx0}" x2="${gx1}" y1="${gy}" y2="${gy}" stroke="#222" stroke-width="0.7" stroke-opacity="0.8"/>`);
      }
      for (let c = 1; c < cols; c++) {
        const gx = x + xs[c] * sx;
        parts.push(`<line x1="${gx}" x2="${gx}" y1="${gy0}" y2="${gy1}" stroke="#222" stroke-width="0.7" stroke-opacity="0.8"/>`);
      }
      if (p.cellText) {
        const fs = Math.max(6, Math.min(11, (0.28 * (gx1 - gx0)) / cols));
        p.cellText.forEach((t, k) => {
          const r = Math.floor(k / cols);
          const c = k % cols;
          const cx = x + ((xs[c] + xs[c + 1]) / 2) * sx;
          const cy = y + ((ys[r] + ys[r + 1]) / 2) * sy + fs / 3;
          parts.push(`<text x="${cx}" y="${cy}" font-size="${fs}" text-anchor="middle" fill="#111" stroke="#fff" stroke-width="1.6" stroke-opacity="0.85" paint-order="stroke">${xmlEscape(t)}</text>`);
        });
      }
    }
    const lines = wrap(p.caption, Math.floor(w / 5.6));
    lines.slice(0, 2).forEach((line, k) => parts.push(`<text x="${x + w / 2}" y="${y + h + 15 + 13 * k}" font-size="11" text-anchor="middle">${xmlEscape(line)}</text>`));
    x += w;
    if (p.colourBar) {
      parts.push(colourBarSvg(p.colourBar, x + 8, y, h, `bar${i}`));
      x += 8 + barSpace(p.colourBar) + 6;
    } else {
      x += margin;
    }
  }
  // Wide enough for the title and subtitle (DejaVu Sans: ~0.62 em per character, bold ~0.68).
  const content = x + margin;
  const width = Math.ceil(Math.max(content, 320, title.length * 15 * 0.68 + 2 * margin, (subtitle ?? '').length * 11 * 0.62 + 2 * margin,
    hatched ? UNSEEN_LEGEND.length * 10.5 * 0.62 + 28 + 2 * margin : 0));
  const shift = (width - content) / 2;
  const legendH = hatched ? 18 : 0;
  const height = titleH + maxH + captionH + legendH + margin;
  const head = [`<text x="${width / 2}" y="22" font-size="15" font-weight="bold" text-anchor="middle">${xmlEscape(title)}</text>`];
  if (subtitle) head.push(`<text x="${width / 2}" y="40" font-size="11" fill="#444" text-anchor="middle">${xmlEscape(subtitle)}</text>`);
  if (hatched) {
    // One legend for every panel's hatching, centred under the captions.
    const ly = titleH + maxH + captionH + 2;
    const lx = (width - (UNSEEN_LEGEND.length * 10.5 * 0.62 + 28)) / 2;
    head.push(`<rect x="${lx}" y="${ly}" width="22" height="11" fill="#dcdcdc" stroke="#444" stroke-width="0.6"/><rect x="${lx}" y="${ly}" width="22" height="11" fill="url(#unseen)"/>` +
      `<text x="${lx + 28}" y="${ly + 9}" font-size="10.5" fill="#333">${xmlEscape(UNSEEN_LEGEND)}</text>`);
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, sans-serif">` +
    `<rect width="100%" height="100%" fill="white"/>${hatched ? HATCH_PATTERN : ''}${head.join('')}<g transform="translate(${shift} 0)">${parts.join('')}</g></svg>`;
  return svg;
}

const UNSEEN_LEGEND = 'not seen by the model: outside its centre crop (dashed box)';

/** Diagonal hatching for the area the model did not see (one pattern per figure). */
const HATCH_PATTERN = '<defs><pattern id="unseen" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
  '<line x1="0" y1="0" x2="0" y2="6" stroke="#555" stroke-width="1" stroke-opacity="0.35"/></pattern></defs>';

/**
 * The hatching outside a panel's window and the window's dashed outline. The panel is at (x, y),
 * w x h SVG units, sx and sy units per image pixel.
 */
function windowSvg(win: ImageRect, x: number, y: number, w: number, h: number, sx: number, sy: number): string {
  const [l, t] = [x + win.left * sx, y + win.top * sy];
  const [r, b] = [l + win.width * sx, t + win.height * sy];
  // even-odd: the panel minus the window
  const outside = `M${x},${y}H${x + w}V${y + h}H${x}Z M${l},${t}H${r}V${b}H${l}Z`;
  return `<path d="${outside}" fill="url(#unseen)" fill-rule="evenodd"/>` +
    `<rect x="${l}" y="${t}" width="${r - l}" height="${b - t}" fill="none" stroke="#fff" stroke-width="2.2"/>` +
    `<rect x="${l}" y="${t}" width="${r - l}" height="${b - t}" fill="none" stroke="#111" stroke-width="1.1" stroke-dasharray="5 3"/>`;
}

/** Greedy word wrap to at most `width` characters per line. */
function wrap(text: string, width: number): string[] {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else {
      line = line ? `${line} ${w}` : w;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** The symmetric colour range of Shapley values: max |phi| (1 when all are 0). */
export function shapleyRange(phi: readonly number[]): number {
  const m = Math.max(...phi.map(Math.abs));
  return m > 0 ? m : 1;
}

/** Shapley values as short cell labels (shown when the grid is small enough to read them). */
export function shapleyCellText(phi: readonly number[], grid: { rows: number; cols: number }): string[] | undefined {
  if (grid.rows > 8 || grid.cols > 8) return undefined;
  // One shared number of decimals: two significant digits of the largest |phi|.
  const m = shapleyRange(phi);
  const decimals = Math.max(0, Math.min(6, 1 - Math.floor(Math.log10(m))));
  return phi.map((v) => {
    const t = v.toFixed(decimals);
    return Number(t) === 0 ? '0' : t;
  });
}
