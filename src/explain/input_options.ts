/**
 * The input options of the image commands (gradcam, shap, explain): folder inputs (--recursive)
 * and sharding (--shard). One helper, so each command declares them with one call.
 */
import type { Command } from 'commander';
import { SHARD_OPTION_HELP } from '../core/shard.js';

/** Adds --recursive and --shard to an image command. */
export function inputOptions(cmd: Command): Command {
  return cmd
    .option('--recursive', 'IMG folders: also take the images in their sub-folders (output names join the folders with __: sub__cat)', false)
    .option('--shard <K/N|auto>', SHARD_OPTION_HELP);
}

/** The help text on folders, shards and summary.csv, shown after each image command's. */
export const INPUTS_HELP = `
IMG may be a folder: its images (png, jpg, jpeg, webp, gif, tif), sorted by path. Besides each
image's files, --out gets summary.csv: one row per image x class x method (image, class, label,
probability, the method's numbers, seconds, files). With --shard K/N each shard writes
summary.shard-K-of-N.csv and run.shard-K-of-N.json; \`dnnkit merge OUT\` joins them.`;
