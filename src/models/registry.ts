/**
 * The single registry of pretrained models dnnkit knows: name -> architecture builder, the
 * torchvision checkpoint (URL, file name, full SHA-256 and size) and what the explainers need to
 * know. A registry name in the cache holds only that verified checkpoint; any other checkpoint is
 * converted under a name of its own (`models convert --name`).
 * The CLI's choices (`--arch`, `models pull NAME`, `--model`) and the cache layout derive from it.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { buildResnet18, RESNET18_INPUT, RESNET18_LAST_CONV_BLOCK } from './resnet18.js';
import { buildVgg16, VGG16_INPUT, VGG16_LAST_CONV_ACTIVATION } from './vgg16.js';
import type { BuildOptions } from './layers_util.js';

export interface ModelEntry {
  /** Builds the tfjs architecture (layer names = torchvision state_dict prefixes). */
  build(opts?: BuildOptions): tf.LayersModel;
  /** torchvision's ImageNet checkpoint. */
  url: string;
  /** Its file name; the hex after the dash is the start of the file's SHA-256 (torch.hub convention). */
  file: string;
  /** The file's full SHA-256 (hex), pinned: only this file may be cached under the registry name. */
  sha256: string;
  /** The file's size in bytes. */
  bytes: number;
  /** [height, width, channels] of the model input. */
  inputShape: [number, number, number];
  /** Layer whose output is the last convolutional feature map (Grad-CAM's usual target). */
  lastConvLayer: string;
  /** One line for `models list`. */
  description: string;
}

export const MODELS = {
  resnet18: {
    build: buildResnet18,
    url: 'https://download.pytorch.org/models/resnet18-f37072fd.pth',
    file: 'resnet18-f37072fd.pth',
    sha256: 'f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec',
    bytes: 46_830_571,
    inputShape: RESNET18_INPUT,
    lastConvLayer: RESNET18_LAST_CONV_BLOCK,
    description: 'ResNet-18, torchvision IMAGENET1K_V1 (11.7 M parameters, 47 MB)',
  },
  vgg16: {
    build: buildVgg16,
    url: 'https://download.pytorch.org/models/vgg16-397923af.pth',
    file: 'vgg16-397923af.pth',
    sha256: '397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0',
    bytes: 553_433_881,
    inputShape: VGG16_INPUT,
    lastConvLayer: VGG16_LAST_CONV_ACTIVATION,
    description: 'VGG-16 without batch norm, torchvision IMAGENET1K_V1 (138 M parameters, 528 MB)',
  },
} satisfies Record<string, ModelEntry>;

export type ModelName = keyof typeof MODELS;
export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

export function isModelName(name: string): name is ModelName {
  return Object.prototype.hasOwnProperty.call(MODELS, name);
}

/** The SHA-256 prefix a torch.hub file name carries (`name-<hex>.ext`). */
export function sha256PrefixOf(file: string): string | undefined {
  return /-([0-9a-f]{6,64})\.[a-z]+$/i.exec(file)?.[1]?.toLowerCase();
}

/** dnnkit's home: $DNNKIT_HOME, else ~/.cache/dnnkit. */
export function dnnkitHome(home?: string): string {
  return path.resolve(home ?? process.env.DNNKIT_HOME ?? path.join(os.homedir(), '.cache', 'dnnkit'));
}

/** Names a converted checkpoint may be cached under (`models convert --name`): a file name, no path. */
export const CACHE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Where PyTorch keeps downloaded checkpoints: $TORCH_HOME/hub/checkpoints, TORCH_HOME defaulting
 * to $XDG_CACHE_HOME/torch, else ~/.cache/torch (torch.hub.get_dir()).
 */
export function torchHubCheckpointsDir(env: NodeJS.ProcessEnv = process.env): string {
  const torchHome = env.TORCH_HOME || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'torch');
  return path.join(path.resolve(torchHome), 'hub', 'checkpoints');
}

/** Where a converted model lives in the cache: <home>/models/<name>/model.json + weights.bin. */
export function cachedModelDir(name: string, home?: string): string {
  return path.join(dnnkitHome(home), 'models', name);
}

/** Where downloaded checkpoints are kept: <home>/checkpoints/<file>. */
export function checkpointPath(name: ModelName, home?: string): string {
  return path.join(dnnkitHome(home), 'checkpoints', MODELS[name].file);
}

/** The download URL, honouring DNNKIT_MODEL_URL_BASE (a mirror, or a local server in tests). */
export function downloadUrl(name: ModelName): string {
  const base = process.env.DNNKIT_MODEL_URL_BASE;
  return base ? `${base.replace(/\/+$/, '')}/${MODELS[name].file}` : MODELS[name].url;
}
