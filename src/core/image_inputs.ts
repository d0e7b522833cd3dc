/**
 * Image arguments (issue 16): each IMG may be a file or a folder. A folder stands for the images in
 * it (and, with `recursive`, in its sub-folders), sorted by relative path in code-point order (the
 * same on every machine, whatever the locale: shards of one run must agree on the list). Each item
 * gets a table key and an output name that is unique in the run and stable: the same arguments
 * give the same names whichever shard runs them.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { InputError } from './errors.js';
import { showPath } from './quote.js';

/** Extensions taken from folders: the formats the image reader (sharp) decodes. */
export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'tif', 'tiff'];

/** One image to process. */
export interface ImageItem {
  /** The path to open. */
  file: string;
  /** The image as tables name it: its path relative to the folder given (sub/cat.png), or the file argument as given. */
  key: string;
  /** Output base name, unique in the run: the file's name without extension, folders joined with `__` (sub__cat). */
  name: string;
}

function isImageName(name: string): boolean {
  const ext = path.extname(name).slice(1).toLowerCase();
  return !name.startsWith('.') && IMAGE_EXTENSIONS.includes(ext);
}

/** Images under `root` (relative paths with '/'), sorted; sub-folders only when `recursive`. */
async function listImages(root: string, recursive: boolean, rel = ''): Promise<{ images: string[]; subfolders: number }> {
  const images: string[] = [];
  let subfolders = 0;
  const entries = await fsp.readdir(path.join(root, rel), { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.')) continue; // hidden files, our own temporaries
    const r = rel ? `${rel}/${e.name}` : e.name;
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      const st = await fsp.stat(path.join(root, r)).catch(() => undefined);
      isDir = st?.isDirectory() ?? false;
      isFile = st?.isFile() ?? false;
    }
    if (isDir) {
      subfolders++;
      if (recursive) images.push(...(await listImages(root, true, r)).images);
    } else if (isFile && isImageName(e.name)) {
      images.push(r);
    }
  }
  // code-point order, not localeCompare: identical on every machine
  return { images: images.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), subfolders };
}

/** A file-name-safe base: `sub/cat.png` -> `sub__cat`. */
function baseName(rel: string): string {
  return rel.replace(/\.[^./\\]+$/, '').split(/[\\/]+/).map((p) => p.replace(/[^\w.-]+/g, '_')).join('__') || 'image';
}

/**
 * The items of `args`, in argument order, each folder expanded (sorted). A folder with no images
 * is an InputError naming it (and suggesting --recursive when it has sub-folders); files are passed
 * through unchecked (the command reads their headers). Names are made unique with -2, -3 in this
 * order, so they depend only on the arguments.
 */
export async function collectImages(args: readonly string[], opts: { recursive?: boolean } = {}): Promise<ImageItem[]> {
  const items: Array<Omit<ImageItem, 'name'> & { base: string }> = [];
  for (const arg of args) {
    const st = await fsp.stat(arg).catch(() => undefined);
    if (!st?.isDirectory()) {
      items.push({ file: arg, key: arg, base: baseName(path.basename(arg)) });
      continue;
    }
    let found;
    try {
      found = await listImages(arg, opts.recursive === true);
    } catch (err) {
      throw new InputError(`cannot list the folder ${showPath(arg)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check its permissions`);
    }
    if (found.images.length === 0) {
      const hint = found.subfolders > 0 && !opts.recursive ? `; it has ${found.subfolders} sub-folder${found.subfolders === 1 ? '' : 's'}: add --recursive to look inside` : '';
      throw new InputError(`folder ${showPath(arg)} holds no images (${IMAGE_EXTENSIONS.join(', ')})${hint}`);
    }
    for (const rel of found.images) items.push({ file: path.join(arg, rel), key: rel, base: baseName(rel) });
  }
  const seen = new Map<string, number>();
  const taken = new Set<string>();
  return items.map(({ base, ...it }) => {
    let n = seen.get(base) ?? 0;
    let name: string;
    do {
      n += 1;
      name = n === 1 ? base : `${base}-${n}`;
    } while (taken.has(name)); // `cat-2.png` beside two `cat.png`s
    seen.set(base, n);
    taken.add(name);
    return { ...it, name };
  });
}
