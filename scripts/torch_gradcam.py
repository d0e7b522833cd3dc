#!/usr/bin/env python3
"""Grad-CAM computed with PyTorch autograd: the oracle for dnnkit's GradCam (run with /usr/bin/python3).

Loads a torchvision ResNet-18 / VGG-16 state_dict (e.g. the seeded random-init checkpoint written
by scripts/torch_fixtures.py), takes input images as raw float32 NHWC (the `<arch>-inputs.f32`
file of the fixtures), and prints one JSON object on stdout:
  {"maps": [{"layer": name, "index": i, "classIndex": c, "height": h, "width": w,
                            "cam": [h*w floats, row-major, ReLU'd and scaled to [0, 1]],
                            "logit": y^c, "rawMax": max before scaling}]}

Grad-CAM (Selvaraju et al. 2017): alpha_k = mean_{ij} d y^c / d A^k_ij, map = ReLU(sum_k alpha_k A^k),
with y^c the logit (the models output logits; no softmax). Scaling: (m - min) / (max - min), 0 if
constant, as dnnkit does.

Layer names follow dnnkit's converted models (torchvision state_dict prefixes):
  a module name (`layer4.1`, `layer4.1.conv2`, `features.28`, `features.29`) is hooked directly;
  `<block>.relu` of a BasicBlock is its first ReLU call (after bn1: torchvision reuses one module);
  `<block>.add` is the residual sum before the block's last ReLU.
ReLUs are made out-of-place so that hooked activations are not overwritten.

Usage: /usr/bin/python3 scripts/torch_gradcam.py --arch resnet18 --weights W.pth --inputs X.f32
       --layer layer4.1 [--classes 3,17] [--count N]
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
    for m in model.modules():
        if isinstance(m, torch.nn.ReLU):
            m.inplace = False
    return model.eval()


def capture(model: torch.nn.Module, layer: str):
    """Registers a hook that stores the target activation; returns (store, handle)."""
    modules = dict(model.named_modules())
    store = {}
    if layer in modules:
        def hook(_m, _i, out):
            store.setdefault('a', out)  # first call (BasicBlock's shared relu is called twice)
        return store, modules[layer].register_forward_hook(hook)
    if layer.endswith('.add') and layer[:-4] in modules:
        # the residual sum is the input of the block's second ReLU call: hook the relu's input.
        block = modules[layer[:-4]]
        calls = []

        def pre(_m, inp):
            calls.append(inp[0])
            if len(calls) == 2:
                store['a'] = inp[0]
        return store, block.relu.register_forward_pre_hook(pre)
    raise SystemExit(f'torch_gradcam: no module {layer!r} in {type(model).__name__}')


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--arch', required=True, choices=['resnet18', 'vgg16'])
    ap.add_argument('--weights', required=True)
    ap.add_argument('--inputs', required=True, help='float32 NHWC [n, 224, 224, 3]')
    ap.add_argument('--layer', required=True, help='target layer; several comma-separated')
    ap.add_argument('--classes', default='', help='comma-separated class per image (default top-1)')
    ap.add_argument('--count', type=int, default=0, help='use the first N images (default all)')
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = build(args.arch, args.weights)
    raw = np.fromfile(args.inputs, dtype='<f4').reshape(-1, 224, 224, 3)
    if args.count:
        raw = raw[:args.count]
    classes = [int(c) for c in args.classes.split(',') if c != '']
    out = []
    for layer in args.layer.split(','):
        for i in range(raw.shape[0]):
            x = torch.from_numpy(raw[i:i + 1].copy()).permute(0, 3, 1, 2).contiguous()
            store, handle = capture(model, layer)
            logits = model(x)
            handle.remove()
            a = store['a']  # [1, k, h, w]
            c = classes[i] if i < len(classes) else int(logits[0].argmax())
            grads, = torch.autograd.grad(logits[0, c], a)
            alpha = grads.mean(dim=(2, 3), keepdim=True)  # [1, k, 1, 1]
            cam = torch.relu((alpha * a).sum(dim=1))[0].detach()  # [h, w]
            raw_max = float(cam.max())
            lo, hi = float(cam.min()), float(cam.max())
            scaled = (cam - lo) / (hi - lo) if hi > lo else torch.zeros_like(cam)
            out.append({'layer': layer, 'index': i, 'classIndex': c, 'height': cam.shape[0], 'width': cam.shape[1],
                        'cam': scaled.flatten().tolist(), 'logit': float(logits[0, c]), 'rawMax': raw_max})
    json.dump({'maps': out}, sys.stdout)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
