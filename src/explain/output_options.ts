/**
 * The explain commands' output options, declared once: how the maps are drawn (--overlay) and in
 * which file format the full-resolution raw maps are written (--raw). They change no number, only
 * the files (docs/RAW_MAPS.md). `outputOptions(cmd)` declares them on a command;
 * `resolveOutputSettings` checks values given by library callers (the CLI checks them on parsing).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { RAW_FORMATS, type RawFormat } from './raw_map.js';

/** full: the map over the whole original image (resize and crop undone); crop: over the model input. */
export const OVERLAY_MODES = ['full', 'crop'] as const;
export type OverlayMode = (typeof OVERLAY_MODES)[number];

/** How the explain commands write their maps. */
export interface OutputSettings {
  /** Draw over the whole original image ('full') or the model's input ('crop'). */
  overlay: OverlayMode;
  /** Format of the full-resolution raw map: 16-bit PNG, CSV, or none. */
  raw: RawFormat;
}

export const DEFAULT_OUTPUT_SETTINGS: OutputSettings = { overlay: 'full', raw: 'png16' };

/** Option values as commander gives them (undefined when not given). */
export interface OutputOptionValues {
  overlay?: string;
  raw?: string;
}

/** A parser for one of `allowed`; commander prefixes its error with the flag and the value. */
function oneOf<T extends string>(allowed: readonly T[], what: string) {
  return (value: string): T => {
    if ((allowed as readonly string[]).includes(value)) return value as T;
    throw new InvalidArgumentError(`use ${allowed.join(', ').replace(/, ([^,]*)$/, ' or $1')} (${what})`);
  };
}

const OVERLAY_WHAT = 'full = over the whole original image, crop = over the model input only';
const RAW_WHAT = 'png16 = 16-bit PNG with min/max in its text, csv = one row per pixel row, none = no full-resolution map';

/**
 * Declares --overlay and (unless `raw` is false: `explain` writes only its figure) --raw on an
 * explain command.
 */
export function outputOptions(cmd: Command, { raw = true } = {}): Command {
  const d = DEFAULT_OUTPUT_SETTINGS;
  cmd.addOption(new Option('--overlay <mode>', `draw the maps over the whole original image (full: the resize and centre crop undone, the part the model did not see hatched) or over the model input only (crop) (default ${d.overlay})`)
      .argParser(oneOf(OVERLAY_MODES, OVERLAY_WHAT)));
  if (!raw) return cmd;
  return cmd.addOption(new Option('--raw <format>', `the map at the original image's resolution: png16 (<name>.<model>.<method>.raw.png, 16-bit, value = min + (max - min) * v / 65535, see docs/RAW_MAPS.md), csv (.raw.csv) or none (default ${d.raw})`)
      .argParser(oneOf(RAW_FORMATS, RAW_WHAT)));
}

/** Output settings from option values (library callers: a bad value is a UsageError naming the flag). */
export function resolveOutputSettings(values: OutputOptionValues): OutputSettings {
  const check = <T extends string>(flag: string, value: string | undefined, allowed: readonly T[], what: string, fallback: T): T => {
    if (value === undefined) return fallback;
    try {
      return oneOf(allowed, what)(value);
    } catch (err) {
      throw new UsageError(`${flag} ${value}: ${(err as Error).message}`);
    }
  };
  return {
    overlay: check('--overlay', values.overlay, OVERLAY_MODES, OVERLAY_WHAT, DEFAULT_OUTPUT_SETTINGS.overlay),
    raw: check('--raw', values.raw, RAW_FORMATS, RAW_WHAT, DEFAULT_OUTPUT_SETTINGS.raw),
  };
}
