#!/usr/bin/env python3
"""PyTorch oracle fixtures for dnnkit's converted ResNet-18 / VGG-16 (run with /usr/bin/python3).

Writes into OUT (a temporary folder; nothing here is committed):
  <arch>.pth           seeded random-init torchvision state_dict, zip format (torch >= 1.6)
  <arch>-legacy.pth    the same state_dict in the legacy (pre-1.6, non-zip) format, with --legacy
  <arch>-wrapped.pth, <arch>-full.pth, <arch>-half.pth   with --variants: {'epoch', 'state_dict'},
                       torch.save(model) (not a state_dict), float16 weights
  <arch>-inputs.f32    [n, 224, 224, 3] float32 little-endian, NHWC: torchvision-preprocessed images
  <arch>-logits.f32    [n, 1000] float32 little-endian: PyTorch's logits on those inputs (eval mode)
  <arch>.json          shapes, file names, image names, versions

Batch-norm parameters and running statistics are randomised too (torchvision initialises them to
1/0, which would make a wrong mapping of gamma/beta/mean/var invisible), biases are small random
values, and Linear layers get He-normal weights (torchvision's N(0, 0.01) would make VGG's logits
~0.3, too small for an absolute tolerance to mean much).

Usage: /usr/bin/python3 scripts/torch_fixtures.py --arch resnet18 --out /tmp/fx [--images a.png b.png]
       [--noise 1] [--seed 0] [--legacy]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

# torchvision's ImageNet preprocessing (the reference the tfjs side reproduces).
PREPROCESS = transforms.Compose([
    transforms.Resize(256),
    transforms.CenterCrop(224),
    transforms.ToTensor(),
    transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
])


def build(arch: str, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
            elif isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                if isinstance(m, torch.nn.Linear):
                    # He init instead of torchvision's N(0, 0.01) for VGG's classifier, so that the
                    # logits are O(1-10) and an absolute tolerance of 1e-3 is a real test.
                    torch.nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
                if m.bias is not None:
                    m.bias.normal_(0.0, 0.01)
    return model.eval()


def write_tiny(out: str) -> int:
    """Known values: a = arange(6) as [2,3] float32; b = arange(5) float64; c = [7] int64; v = a view
    of storage w (arange(10) float32) at offset 2, shape [4]; w itself. v and w share one storage."""
    w = torch.arange(10, dtype=torch.float32)
    sd = {'a': torch.arange(6, dtype=torch.float32).reshape(2, 3), 'b': torch.arange(5, dtype=torch.float64),
          'c': torch.tensor([7]), 'v': w[2:6], 'w': w}
    torch.save(sd, os.path.join(out, 'tiny.pth'))
    torch.save(sd, os.path.join(out, 'tiny-legacy.pth'), _use_new_zipfile_serialization=False)
    print(json.dumps({'arch': 'tiny'}))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--arch', required=True, choices=['resnet18', 'vgg16', 'tiny'],
                    help="'tiny': a small hand-checkable state_dict (tiny.pth, tiny-legacy.pth) for the reader tests")
    ap.add_argument('--out', required=True)
    ap.add_argument('--images', nargs='*', default=[])
    ap.add_argument('--noise', type=int, default=1, help='extra inputs of Gaussian noise')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--legacy', action='store_true', help='also write the legacy non-zip format')
    ap.add_argument('--variants', action='store_true', help='also write wrapped, whole-model and float16 checkpoints')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    if args.arch == 'tiny':
        return write_tiny(args.out)

    model = build(args.arch, args.seed)
    sd = model.state_dict()
    torch.save(sd, os.path.join(args.out, f'{args.arch}.pth'))
    if args.legacy:
        torch.save(sd, os.path.join(args.out, f'{args.arch}-legacy.pth'), _use_new_zipfile_serialization=False)
    if args.variants:
        torch.save({'epoch': 3, 'state_dict': sd}, os.path.join(args.out, f'{args.arch}-wrapped.pth'))
        torch.save(model, os.path.join(args.out, f'{args.arch}-full.pth'))
        torch.save({k: v.half() for k, v in sd.items()}, os.path.join(args.out, f'{args.arch}-half.pth'))

    inputs = [PREPROCESS(Image.open(p).convert('RGB')) for p in args.images]
    gen = torch.Generator().manual_seed(args.seed + 1)
    inputs += [torch.randn(3, 224, 224, generator=gen) for _ in range(args.noise)]
    x = torch.stack(inputs)  # [n, 3, 224, 224]
    with torch.no_grad():
        logits = model(x)
    x.permute(0, 2, 3, 1).contiguous().numpy().astype('<f4').tofile(os.path.join(args.out, f'{args.arch}-inputs.f32'))
    logits.numpy().astype('<f4').tofile(os.path.join(args.out, f'{args.arch}-logits.f32'))
    meta = {
        'arch': args.arch,
        'n': len(inputs),
        'inputShape': [224, 224, 3],
        'classes': int(logits.shape[1]),
        'images': [os.path.basename(p) for p in args.images] + [f'noise{i}' for i in range(args.noise)],
        'checkpoint': f'{args.arch}.pth',
        'legacyCheckpoint': f'{args.arch}-legacy.pth' if args.legacy else None,
        'inputs': f'{args.arch}-inputs.f32',
        'logits': f'{args.arch}-logits.f32',
        'logitAbsMax': float(logits.abs().max()),
        'seed': args.seed,
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
    }
    with open(os.path.join(args.out, f'{args.arch}.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))
    return 0


if __name__ == '__main__':
    sys.exit(main())
