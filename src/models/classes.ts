/**
 * Classes by name (issue 14, item 4): `--class` takes an index, a label, or any WordNet synonym
 * of the 1000 ImageNet classes ("tabby cat" for torchvision's "tabby"), case-insensitive; `topK`
 * (e.g. `top3`) and comma lists (`281,285`, `tabby cat, Egyptian cat`) select several classes.
 * An unknown name is a UsageError naming the three closest names.
 *
 * The synonym lists are data/imagenet_synonyms.json (from @tensorflow-models/mobilenet's
 * IMAGENET_CLASSES, Apache-2.0; see the file's `source` and `licence`).
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../core/errors.js';
import { editDistance } from '../core/command.js';
import { imagenetClassNames } from './index.js';

const SYNONYMS_FILE = new URL('../../../data/imagenet_synonyms.json', import.meta.url);
let synonymCache: string[][] | undefined;

/** The WordNet synonyms of each ImageNet class, in torchvision's index order (1000 lists). */
export function imagenetSynonyms(): string[][] {
  synonymCache ??= (JSON.parse(readFileSync(SYNONYMS_FILE, 'utf8')) as { classes: string[][] }).classes;
  return synonymCache;
}

/** Whether `names` are the shipped ImageNet class names (then the synonyms apply too). */
function isImagenet(names: readonly string[]): boolean {
  if (names.length !== 1000) return false;
  const table = imagenetClassNames();
  return names === table || names.every((n, i) => n === table[i]);
}

/** Which classes to explain: the model's top K predictions, or these class indices. */
export type ClassSelection = { top: number } | { indices: number[] };

/** Every name of each class: its label, then (ImageNet) its synonyms; lower-cased. */
function namesOf(classNames: readonly string[]): string[][] {
  const syn = isImagenet(classNames) ? imagenetSynonyms() : undefined;
  return classNames.map((label, i) => [...new Set([label, ...(syn?.[i] ?? [])].map((n) => n.toLowerCase()))]);
}

/**
 * The index of one class given as an index ("281") or a name (label or synonym, any case).
 * `classes` is the model's number of outputs; `classNames` its labels, if it has any.
 */
export function resolveClassName(text: string, classes: number, classNames?: readonly string[]): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const idx = Number(t);
    if (idx >= classes) throw new UsageError(`class ${t} is out of range: the model has ${classes} classes (0-${classes - 1})`);
    return idx;
  }
  if (!classNames || classNames.length === 0) {
    throw new UsageError(`class '${t}': this model has no class names; give a class index 0-${classes - 1} or topN`);
  }
  const want = t.toLowerCase().replace(/\s+/g, ' ');
  // A label wins over a synonym: "crane" is class 517 (the machine), "crane bird" class 134.
  const byLabel = classNames.map((n, i) => (n.toLowerCase() === want ? i : -1)).filter((i) => i >= 0);
  const all = namesOf(classNames);
  const hits = byLabel.length > 0 ? byLabel : all.map((names, i) => (names.includes(want) ? i : -1)).filter((i) => i >= 0);
  if (hits.length === 1) return hits[0];
  if (hits.length > 1) {
    throw new UsageError(`class '${t}' names ${hits.length} classes: ${hits.map((i) => `${i} (${classNames[i]})`).join(', ')}; give the index or a longer name`);
  }
  const near = closestClassNames(want, all, classNames);
  throw new UsageError(`unknown class '${t}'; the closest names are ${near.map((n) => `'${n.name}' (${n.index})`).join(', ')}; give a class index 0-${classes - 1}, a name, or topN`);
}

/** The three names nearest to `want` by edit distance (a name containing `want` comes first), one per class. */
function closestClassNames(want: string, all: string[][], labels: readonly string[]): Array<{ name: string; index: number }> {
  const scored: Array<{ name: string; index: number; d: number }> = [];
  all.forEach((names, index) => {
    let best = { name: labels[index], d: Infinity };
    for (const n of names) {
      // A name holding what was typed ("tabby" in "tabby cat") is nearer than any edit.
      const d = n.includes(want) ? 0.5 + (n.length - want.length) / 1000 : editDistance(want, n);
      if (d < best.d) best = { name: n, d };
    }
    scored.push({ ...best, index });
  });
  return scored.sort((a, b) => a.d - b.d || a.index - b.index).slice(0, 3).map(({ name, index }) => ({ name, index }));
}

/**
 * Parses a --class value: `topK` (K >= 1; "top1" = the prediction), or a comma-separated list of
 * indices and names (duplicates dropped, order kept). Undefined/empty = undefined (the caller's
 * default, usually top1). Throws a UsageError naming the value and what to give instead.
 */
export function parseClassSelection(spec: string | undefined, classes: number, classNames?: readonly string[]): ClassSelection | undefined {
  if (spec === undefined || spec.trim() === '') return undefined;
  const top = /^top[-_ ]?(\d+)$/i.exec(spec.trim());
  if (top) {
    const k = Number(top[1]);
    if (k < 1 || k > classes) throw new UsageError(`class '${spec}': top K needs 1 <= K <= ${classes} (the model's classes)`);
    return { top: k };
  }
  // A name that itself holds a comma (none of the shipped ones do) is tried whole first.
  const indices: number[] = [];
  const parts = spec.split(',').map((p) => p.trim()).filter((p) => p !== '');
  for (const p of parts) {
    const i = resolveClassName(p, classes, classNames);
    if (!indices.includes(i)) indices.push(i);
  }
  return { indices };
}

/**
 * The classes a selection picks for one image, given its class probabilities: the K most probable
 * (highest first) for `top`, else the listed indices.
 */
export function selectedClasses(selection: ClassSelection | undefined, probabilities: ArrayLike<number>): number[] {
  if (selection === undefined) selection = { top: 1 };
  if ('indices' in selection) return selection.indices;
  return Array.from({ length: probabilities.length }, (_, i) => i).sort((a, b) => probabilities[b] - probabilities[a] || a - b).slice(0, selection.top);
}

/**
 * Drop-in replacement of explain/base.ts's resolveClassIndex for one class (an index or a name,
 * with the ImageNet synonyms): undefined for no --class or "top1".
 */
export function resolveClassIndex(spec: string | number | undefined, classes: number, classNames?: readonly string[]): number | undefined {
  const sel = parseClassSelection(spec === undefined ? undefined : String(spec), classes, classNames);
  if (sel === undefined) return undefined;
  if ('top' in sel) {
    if (sel.top === 1) return undefined;
    throw new UsageError(`class '${spec}': this command explains one class per image; give an index, a name or top1`);
  }
  if (sel.indices.length !== 1) throw new UsageError(`class '${spec}' names ${sel.indices.length} classes; this command explains one class per image`);
  return sel.indices[0];
}
