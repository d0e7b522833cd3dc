/**
 * Drawing token attributions (numbers in, SVG and HTML text out; PNG conversion and files are the
 * caller's): each token on a background from blue (against the explained class) through white
 * to red (for it), scaled per method by the largest |value| of the sentence, the value printed
 * under the token, tokens wrapping onto new lines, one block per method, a legend per block.
 */

/** What a figure shows of one sentence. */
export interface SentenceFigure {
  title: string;
  tokens: string[];
  blocks: { heading: string; values: number[]; /** Standard errors, printed as +-se when > 0. */ se?: number[] }[];
  /** Name of the explained class, for the legend ("for positive"). */
  className: string;
}

const WIDTH = 1000;
const MARGIN = 16;
const TOKEN_FONT = 14;
const VALUE_FONT = 10;
const ROW_HEIGHT = 44;
/** Generous width of a character of DejaVu Sans (em fraction), so that boxes never clip text. */
const CHAR_EM = 0.62;

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Background colour of a value in [-1, 1] of the scale: blue (#2166ac) - white - red (#b2182b). */
export function attributionColour(scaled: number): string {
  const t = Math.max(-1, Math.min(1, Number.isFinite(scaled) ? scaled : 0));
  const [r, g, b] = t >= 0 ? [178, 24, 43] : [33, 102, 172];
  const a = Math.abs(t);
  const mix = (c: number) => Math.round(255 + (c - 255) * a);
  return `rgb(${mix(r)},${mix(g)},${mix(b)})`;
}

/** A value as printed under its token: 3 significant digits. */
export const formatValue = (v: number): string => (v === 0 ? '0' : Math.abs(v) >= 0.01 ? v.toFixed(2) : v.toExponential(1));

const scaleOf = (values: readonly number[]): number => Math.max(1e-12, ...values.map((v) => Math.abs(v)));

/** The text under a token: its value, and +-se when estimated. */
const valueText = (v: number, se?: number): string => (se && se > 0 ? `${formatValue(v)}±${formatValue(se)}` : formatValue(v));

/** Token boxes placed left to right, wrapping at the figure's width: [x, row, width] per token. */
function layout(tokens: readonly string[], labels: readonly string[]): { x: number; row: number; w: number }[] {
  const out: { x: number; row: number; w: number }[] = [];
  let x = MARGIN;
  let row = 0;
  tokens.forEach((t, i) => {
    const w = Math.ceil(Math.max(t.length * TOKEN_FONT * CHAR_EM, labels[i].length * VALUE_FONT * CHAR_EM) + 10);
    if (x + w > WIDTH - MARGIN && x > MARGIN) {
      x = MARGIN;
      row += 1;
    }
    out.push({ x, row, w: Math.min(w, WIDTH - 2 * MARGIN) });
    x += w + 4;
  });
  return out;
}

/** The figure as an SVG document (WIDTH px wide, as tall as the wrapped blocks need). */
export function sentenceSvg(fig: SentenceFigure): string {
  const parts: string[] = [];
  let y = MARGIN + 16;
  parts.push(`<text x="${MARGIN}" y="${y}" font-size="16" font-weight="bold">${escapeXml(fig.title)}</text>`);
  y += 14;
  for (const block of fig.blocks) {
    const scale = scaleOf(block.values);
    y += 22;
    parts.push(`<text x="${MARGIN}" y="${y}" font-size="13">${escapeXml(block.heading)}</text>`);
    // Legend: a blue-white-red bar from -scale to +scale, right-aligned on the line below the heading.
    y += 16;
    const lx = WIDTH - MARGIN - 360;
    const stops = [-1, -0.5, 0, 0.5, 1].map((s, k) => `<stop offset="${k * 25}%" stop-color="${attributionColour(s)}"/>`).join('');
    const gid = `g${parts.length}`;
    parts.push(`<defs><linearGradient id="${gid}">${stops}</linearGradient></defs>`);
    parts.push(`<rect x="${lx + 60}" y="${y - 10}" width="180" height="10" fill="url(#${gid})" stroke="#888" stroke-width="0.5"/>`);
    parts.push(`<text x="${lx + 55}" y="${y}" font-size="10" text-anchor="end">against ${escapeXml(fig.className)} ${escapeXml(formatValue(-scale))}</text>`);
    parts.push(`<text x="${lx + 245}" y="${y}" font-size="10">+${escapeXml(formatValue(scale))} for ${escapeXml(fig.className)}</text>`);
    y += 10;
    const labels = block.values.map((v, i) => valueText(v, block.se?.[i]));
    const boxes = layout(fig.tokens, labels);
    for (const [i, b] of boxes.entries()) {
      const top = y + b.row * ROW_HEIGHT;
      const v = block.values[i];
      parts.push(`<rect x="${b.x}" y="${top}" width="${b.w}" height="24" rx="3" fill="${attributionColour(v / scale)}" stroke="#ccc" stroke-width="0.5"/>`);
      parts.push(`<text x="${b.x + b.w / 2}" y="${top + 17}" font-size="${TOKEN_FONT}" text-anchor="middle" fill="${Math.abs(v / scale) > 0.6 ? 'white' : 'black'}">${escapeXml(fig.tokens[i])}</text>`);
      parts.push(`<text x="${b.x + b.w / 2}" y="${top + 36}" font-size="${VALUE_FONT}" text-anchor="middle" fill="#333">${escapeXml(labels[i])}</text>`);
    }
    const rows = (boxes.length ? boxes[boxes.length - 1].row : 0) + 1;
    y += rows * ROW_HEIGHT;
  }
  const height = y + MARGIN;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, sans-serif">`
    + `<rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>\n`;
}

/** The same figure as an HTML snippet (a <div> with inline styles, no scripts). */
export function sentenceHtml(fig: SentenceFigure): string {
  const lines = [`<div class="dnnkit-text-explanation" style="font-family: sans-serif; max-width: ${WIDTH}px">`, `<h3>${escapeXml(fig.title)}</h3>`];
  for (const block of fig.blocks) {
    const scale = scaleOf(block.values);
    lines.push(`<p style="margin: 8px 0 2px">${escapeXml(block.heading)} <small>(blue: against ${escapeXml(fig.className)}, red: for; full colour = ${escapeXml(formatValue(scale))})</small></p>`, '<div style="line-height: 2.6">');
    fig.tokens.forEach((t, i) => {
      const v = block.values[i];
      const label = valueText(v, block.se?.[i]);
      lines.push(`<span title="${escapeXml(label)}" style="display: inline-block; text-align: center; margin: 1px; padding: 0 4px; border-radius: 3px; background: ${attributionColour(v / scale)}">${escapeXml(t)}<br><small style="font-size: 0.7em">${escapeXml(label)}</small></span>`);
    });
    lines.push('</div>');
  }
  lines.push('</div>');
  return lines.join('\n') + '\n';
}
