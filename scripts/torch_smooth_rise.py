#!/usr/bin/env python3
"""SmoothGrad, RISE and the CAM smoothing options computed with PyTorch: the oracle for dnnkit's
smoothgrad.ts, rise.ts and BaseCam's eigenSmooth / augSmooth (run with /usr/bin/python3).

The random draws come from dnnkit (files), so both sides use the very same noise and masks; each
method's arithmetic is written here from its paper, independently of dnnkit's code:

  smoothgrad (Smilkov et al. 2017, eq. 3)   mean_i M(x + sigma * eps_i), sigma = NOISE * (max x - min x);
             M = d y^c/dx (saliency), x * d y^c/dx (gradinput, at the noisy input) or Integrated
             Gradients from a constant baseline (ig, trapezoid rule, torch_cam_attributions.py);
             pixel map: max over channels of |mean| (saliency), sum over channels (the others).
             --normals: float32 NHWC [n, H, W, C] standard normal draws eps_i.
  rise       (Petsiuk et al. 2018, eq. 6)   sum_i softmax(f(x * M_i))_c M_i / (N p).
             --masks: float32 [N, H, W] masks (broadcast over the channels).
  cam        Grad-CAM (alpha_k = mean g^k) or HiResCAM (g * A) at --layer, with
             --eigen-smooth: map = X~ v_1, X = the weighted activations as [h*w, k], X~ = X minus its
                 column means, v_1 = first right singular vector of X~ (torch.linalg.svd, float64),
                 signed so that sum_p map_p * (sum_k X_pk) >= 0;
             --aug-smooth: for flip in (no, yes) x factor in (0.9, 1, 1.1): the map of flip(x) * factor
                 for the original image's class, ReLU, scaled to [0, 1], flipped back; the mean of the
                 six, scaled to [0, 1] again.

Prints one JSON object: {"maps": [{"index": i, "classIndex": c, "height": h, "width": w,
"pixelMap": [h*w floats, row-major], ...}]}

Usage: /usr/bin/python3 scripts/torch_smooth_rise.py --method smoothgrad|rise|cam --arch resnet18 --weights W.pth
       --inputs X.f32 [--count N] [--classes c,..] [--base saliency] [--noise 0.15] [--normals E.f32] [--steps 16]
       [--baseline 0,0,0] [--masks M.f32] [--p 0.5] [--cam gradcam] [--layer layer4.1] [--eigen-smooth] [--aug-smooth]
"""
import argparse
import json
import sys

import numpy as np
import torch

from torch_cam_attributions import integrated_gradients
from torch_gradcam import build, capture


def class_logit_grad(model, x, c):
    """d y^c / dx for a batch x [n, C, H, W] (the sum's gradient is each image's own)."""
    x = x.clone().requires_grad_(True)
    grads, = torch.autograd.grad(model(x)[:, c].sum(), x)
    return grads


def smoothgrad(model, x, c, args):
    """x [1, C, H, W] -> pixel map [H, W]"""
    eps = np.fromfile(args.normals, dtype='<f4').reshape(-1, x.shape[2], x.shape[3], x.shape[1])
    eps = torch.from_numpy(eps.copy()).permute(0, 3, 1, 2).to(x.dtype)  # [n, C, H, W]
    sigma = args.noise * float(x.max() - x.min())
    total = torch.zeros_like(x[0], dtype=torch.float64)
    baseline = torch.tensor([float(v) for v in args.baseline.split(',')])[None, :, None, None].expand_as(x).contiguous()
    for i in range(eps.shape[0]):
        noisy = x + sigma * eps[i:i + 1]
        if args.base == 'saliency':
            m = class_logit_grad(model, noisy, c)
        elif args.base == 'gradinput':
            m = noisy * class_logit_grad(model, noisy, c)
        else:
            m = integrated_gradients(model, noisy, baseline, c, args.steps, args.batch)
        total += m[0].double()
    mean = total / eps.shape[0]  # [C, H, W]
    return (mean.abs().amax(dim=0) if args.base == 'saliency' else mean.sum(dim=0)), {'sigma': sigma}


def rise(model, x, c, args):
    """x [1, C, H, W] -> saliency [H, W]"""
    masks = torch.from_numpy(np.fromfile(args.masks, dtype='<f4').reshape(-1, x.shape[2], x.shape[3]).copy()).to(x.dtype)
    total = torch.zeros(x.shape[2:], dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, masks.shape[0], args.batch):
            m = masks[start:start + args.batch]
            p = torch.softmax(model(x * m[:, None]), dim=1)[:, c]  # [n]
            total += (p[:, None, None].double() * m.double()).sum(dim=0)
    return total / (masks.shape[0] * args.p), {}


def cam_map(model, x, c, args):
    """The map (ReLU, scaled to [0, 1]) of x [1, C, H, W] for class c. [h, w]"""
    store, handle = capture(model, args.layer)
    logits = model(x)
    handle.remove()
    a = store['a']
    g = torch.autograd.grad(logits[0, c], a)[0]
    a = a.detach()
    weighted = g.mean(dim=(2, 3), keepdim=True) * a if args.cam == 'gradcam' else g * a  # [1, k, h, w]
    k, h, w = weighted.shape[1:]
    if args.eigen_smooth:
        xmat = weighted[0].double().reshape(k, h * w).T  # [h*w, k]
        centred = xmat - xmat.mean(dim=0, keepdim=True)
        _u, _s, vh = torch.linalg.svd(centred, full_matrices=False)
        proj = centred @ vh[0]
        if float((proj * xmat.sum(dim=1)).sum()) < 0:
            proj = -proj
        pre = proj.reshape(h, w)
    else:
        pre = weighted.sum(dim=1)[0].double()
    cam = torch.relu(pre)
    return scale(cam), float(cam.max())


def scale(m):
    lo, hi = float(m.min()), float(m.max())
    return (m - lo) / (hi - lo) if hi > lo else torch.zeros_like(m)


def cam(model, x, c, args):
    if not args.aug_smooth:
        m, raw_max = cam_map(model, x, c, args)
        return m, {'rawMax': raw_max}
    maps = []
    for flip in (False, True):
        for factor in (0.9, 1.0, 1.1):
            xa = (torch.flip(x, dims=[3]) if flip else x) * factor
            m, _ = cam_map(model, xa, c, args)
            maps.append(torch.flip(m, dims=[1]) if flip else m)
    mean = torch.stack(maps).mean(dim=0)
    return scale(mean), {'rawMax': float(mean.max())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--method', required=True, choices=['smoothgrad', 'rise', 'cam'])
    ap.add_argument('--arch', required=True, choices=['resnet18', 'vgg16'])
    ap.add_argument('--weights', required=True)
    ap.add_argument('--inputs', required=True, help='float32 NHWC [n, 224, 224, 3]')
    ap.add_argument('--count', type=int, default=0, help='use the first N images (default all)')
    ap.add_argument('--classes', default='', help='comma-separated class per image (default top-1)')
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--base', default='saliency', choices=['saliency', 'gradinput', 'ig'])
    ap.add_argument('--noise', type=float, default=0.15)
    ap.add_argument('--normals', help='smoothgrad: float32 NHWC standard normal draws [n, H, W, C]')
    ap.add_argument('--steps', type=int, default=16, help='smoothgrad --base ig: trapezoid intervals')
    ap.add_argument('--baseline', default='0,0,0', help='smoothgrad --base ig: baseline value per channel')
    ap.add_argument('--masks', help='rise: float32 [N, H, W] masks')
    ap.add_argument('--p', type=float, default=0.5, help='rise: cell keep probability')
    ap.add_argument('--cam', default='gradcam', choices=['gradcam', 'hirescam'])
    ap.add_argument('--layer', default='layer4.1')
    ap.add_argument('--eigen-smooth', action='store_true')
    ap.add_argument('--aug-smooth', action='store_true')
    ap.add_argument('--float64', action='store_true', help='compute in double precision (a reference for float32 rounding)')
    args = ap.parse_args()
    torch.set_num_threads(1)
    dtype = torch.float64 if args.float64 else torch.float32
    torch.set_default_dtype(dtype)
    model = build(args.arch, args.weights).to(dtype)
    raw = np.fromfile(args.inputs, dtype='<f4').reshape(-1, 224, 224, 3)
    if args.count:
        raw = raw[:args.count]
    classes = [int(c) for c in args.classes.split(',') if c != '']
    method = {'smoothgrad': smoothgrad, 'rise': rise, 'cam': cam}[args.method]
    out = []
    for i in range(raw.shape[0]):
        x = torch.from_numpy(raw[i:i + 1].copy()).permute(0, 3, 1, 2).contiguous().to(dtype)
        with torch.no_grad():
            logits = model(x)
        c = classes[i] if i < len(classes) else int(logits[0].argmax())
        m, extra = method(model, x, c, args)
        out.append({'index': i, 'classIndex': c, 'height': m.shape[0], 'width': m.shape[1],
                    'pixelMap': m.detach().flatten().tolist(), **extra})
    json.dump({'maps': out}, sys.stdout)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
