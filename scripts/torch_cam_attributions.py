#!/usr/bin/env python3
"""Pixel attributions computed with PyTorch autograd: the oracle for dnnkit's Integrated Gradients and
Gradient x Input (run with /usr/bin/python3).

Integrated Gradients (Sundararajan et al. 2017, eq. 1), written from the paper:
  IG_i = (x_i - x'_i) * integral_0^1 dF(x' + a (x - x')) / dx_i da,  F = the class logit y^c,
with the trapezoid rule over STEPS equal intervals (a_k = k / STEPS, weights 1/(2 STEPS) at the ends,
1/STEPS inside) and a constant baseline x' (one value per channel, in the model's input space).
Gradient x Input (Shrikumar et al. 2016): a_i = x_i * dF/dx_i (--method gradinput; no baseline).

Loads a torchvision ResNet-18 / VGG-16 state_dict (scripts/torch_fixtures.py), takes inputs as raw
float32 NHWC, and prints one JSON object on stdout:
  {"maps": [{"index": i, "classIndex": c, "height": H, "width": W,
             "pixelMap": [H*W floats: IG summed over the channels, row-major],
             "scoreInput": F(x), "scoreBaseline": F(x'), "completenessGap": sum(IG) - (F(x) - F(x'))}]}

Usage: /usr/bin/python3 scripts/torch_cam_attributions.py --arch resnet18 --weights W.pth --inputs X.f32
       [--method ig|gradinput] [--steps 16] [--baseline 0,0,0] [--classes 3,17] [--count N] [--batch 8] [--float64]
"""
import argparse
import json
import sys

import numpy as np
import torch
import torchvision


def build(arch: str, weights: str) -> torch.nn.Module:
    model = getattr(torchvision.models, arch)(weights=None)
    model.load_state_dict(torch.load(weights, map_location='cpu'))
    return model.eval()


def integrated_gradients(model, x, baseline, c, steps, batch):
    """x, baseline: [1, C, H, W] -> IG [1, C, H, W]"""
    alphas = torch.arange(steps + 1, dtype=torch.float64) / steps
    weights = torch.full((steps + 1,), 1.0 / steps, dtype=torch.float64)
    weights[0] = weights[-1] = 1.0 / (2 * steps)
    total = torch.zeros_like(x, dtype=torch.float64)
    for start in range(0, steps + 1, batch):
        a = alphas[start:start + batch].to(x.dtype)[:, None, None, None]
        path = (baseline + a * (x - baseline)).requires_grad_(True)
        grads, = torch.autograd.grad(model(path)[:, c].sum(), path)
        total += (grads.double() * weights[start:start + batch][:, None, None, None]).sum(dim=0, keepdim=True)
    return (x - baseline).double() * total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--arch', required=True, choices=['resnet18', 'vgg16'])
    ap.add_argument('--weights', required=True)
    ap.add_argument('--inputs', required=True, help='float32 NHWC [n, 224, 224, 3]')
    ap.add_argument('--method', default='ig', choices=['ig', 'gradinput'])
    ap.add_argument('--steps', type=int, default=16)
    ap.add_argument('--baseline', default='0,0,0', help='the baseline value per channel (input space)')
    ap.add_argument('--classes', default='', help='comma-separated class per image (default top-1)')
    ap.add_argument('--count', type=int, default=0, help='use the first N images (default all)')
    ap.add_argument('--batch', type=int, default=8, help='path points per forward/backward pass')
    ap.add_argument('--float64', action='store_true', help='compute in double precision (a reference for float32 rounding)')
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = build(args.arch, args.weights)
    dtype = torch.float64 if args.float64 else torch.float32
    model = model.to(dtype)
    raw = np.fromfile(args.inputs, dtype='<f4').reshape(-1, 224, 224, 3)
    if args.count:
        raw = raw[:args.count]
    classes = [int(c) for c in args.classes.split(',') if c != '']
    base_values = torch.tensor([float(v) for v in args.baseline.split(',')])
    out = []
    for i in range(raw.shape[0]):
        x = torch.from_numpy(raw[i:i + 1].copy()).permute(0, 3, 1, 2).contiguous().to(dtype)
        baseline = base_values[None, :, None, None].to(dtype).expand_as(x).contiguous()
        with torch.no_grad():
            logits = model(torch.cat([baseline, x]))
        c = classes[i] if i < len(classes) else int(logits[1].argmax())
        if args.method == 'ig':
            ig = integrated_gradients(model, x, baseline, c, args.steps, args.batch)
        else:
            xg = x.clone().requires_grad_(True)
            grads, = torch.autograd.grad(model(xg)[0, c], xg)
            ig = (x * grads).double()
        pixel_map = ig.sum(dim=1)[0]  # [H, W]
        f_x, f_b = float(logits[1, c]), float(logits[0, c])
        out.append({'index': i, 'classIndex': c, 'height': pixel_map.shape[0], 'width': pixel_map.shape[1],
                    'pixelMap': pixel_map.flatten().tolist(), 'scoreInput': f_x, 'scoreBaseline': f_b,
                    'completenessGap': float(ig.sum()) - (f_x - f_b)})
    json.dump({'maps': out}, sys.stdout)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
