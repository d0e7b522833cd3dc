#!/usr/bin/env python3
"""CAM methods computed with PyTorch autograd: the oracle for dnnkit's CAMs (run with /usr/bin/python3).

Loads a torchvision ResNet-18 / VGG-16 state_dict (e.g. the seeded random-init checkpoint written
by scripts/torch_fixtures.py), takes input images as raw float32 NHWC (the `<arch>-inputs.f32`
file of the fixtures), and prints one JSON object on stdout:
  {"maps": [{"method": m, "layer": name, "index": i, "classIndex": c, "height": h, "width": w,
                            "cam": [h*w floats, row-major, ReLU'd and scaled to [0, 1]],
                            "logit": y^c, "rawMax": max before scaling,
                            "weights": [k channel weights] (channel-weight methods only)}]}

Each method is written here from its paper's formula, independently of dnnkit's code (g = d y^c / d A,
y^c the logit: the models output logits, no softmax; A the target activations [1, k, h, w]):
  gradcam     (Selvaraju et al. 2017)     alpha_k = mean_ij g^k_ij
  gradcampp   (Chattopadhay et al. 2018)  alpha_k = sum_ij g^2 / (2 g^2 + sum_ab A^k_ab g^3) * relu(g)
  xgradcam    (Fu et al. 2020)            alpha_k = sum_ij A^k_ij g^k_ij / sum_ij A^k_ij
  hirescam    (Draelos and Carin 2020)    map = sum_k g^k * A^k (element-wise)
  layercam    (Jiang et al. 2021)         map = sum_k relu(g^k) * A^k (element-wise)
  eigencam    (Muhammad and Yeasin 2020)  map = O v_1, O = A as [h*w, k], v_1 its first right singular
                                          vector (torch.linalg.svd, float64), signed so sum(O v_1) >= 0
  scorecam    (Wang et al. 2020, Alg. 1)  alpha = softmax_k(y^c(x * s(up(A^k)))), up = bilinear to the
                                          input (align_corners=False), s = min-max (constant -> 0)
  ablationcam (Ramaswamy and Desai 2020)  alpha_k = (y^c - y^c with A^k = 0) / y^c
then map = ReLU(sum_k alpha_k A^k) for the channel-weight methods, ReLU for all, and the scaling
(m - min) / (max - min), 0 if constant, as dnnkit does. Divisions by a zero denominator use 1.

Layer names follow dnnkit's converted models (torchvision state_dict prefixes):
  a module name (`layer4.1`, `layer4.1.conv2`, `features.28`, `features.29`) is hooked directly;
  `<block>.relu` of a BasicBlock is its first ReLU call (after bn1: torchvision reuses one module);
  `<block>.add` is the residual sum before the block's last ReLU.
ReLUs are made out-of-place so that hooked activations are not overwritten.

Usage: /usr/bin/python3 scripts/torch_gradcam.py --arch resnet18 --weights W.pth --inputs X.f32
       --layer layer4.1 [--method gradcam,scorecam] [--classes 3,17] [--count N] [--batch 32]
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


GRADIENT_FREE = {'eigencam', 'scorecam', 'ablationcam'}
METHODS = ['gradcam', 'gradcampp', 'xgradcam', 'hirescam', 'layercam', 'eigencam', 'scorecam', 'ablationcam']


def safe(d: torch.Tensor) -> torch.Tensor:
    return torch.where(d != 0, d, torch.ones_like(d))


def score_cam_weights(model, x, a, c, batch):
    """softmax over channels of y^c(x * s(up(A^k))). a: [1, k, h, w] -> [k]"""
    k = a.shape[1]
    scores = []
    with torch.no_grad():
        for start in range(0, k, batch):
            up = torch.nn.functional.interpolate(a[0, start:start + batch, None], size=x.shape[2:], mode='bilinear',
                                                 align_corners=False)  # [n, 1, H, W]
            lo = up.amin(dim=(2, 3), keepdim=True)
            rng = up.amax(dim=(2, 3), keepdim=True) - lo
            masks = torch.where(rng > 0, (up - lo) / safe(rng), torch.zeros_like(up))
            scores.append(model(x * masks)[:, c])
    return torch.softmax(torch.cat(scores), dim=0)


def ablation_cam_weights(model, module, x, a, c, batch):
    """(y^c - y^c_k) / y^c with channel k of the target's output zeroed. a: [1, k, h, w] -> [k]"""
    k = a.shape[1]
    replacement = {}
    handle = module.register_forward_hook(lambda _m, _i, _o: replacement['a'])
    try:
        with torch.no_grad():
            replacement['a'] = a
            y = model(x)[0, c]
            drops = []
            for start in range(0, k, batch):
                n = min(batch, k - start)
                ablated = a.repeat(n, 1, 1, 1)
                for j in range(n):
                    ablated[j, start + j] = 0
                replacement['a'] = ablated
                drops.append(model(x)[:, c])
    finally:
        handle.remove()
    return (y - torch.cat(drops)) / y


def eigen_cam_map(a):
    """O v_1 with O = A as [h*w, k] (float64 SVD). a: [1, k, h, w] -> [h, w]"""
    k, h, w = a.shape[1:]
    o = a[0].detach().double().reshape(k, h * w).T
    _u, _s, vh = torch.linalg.svd(o, full_matrices=False)
    v = vh[0]
    if float((o @ v).sum()) < 0:
        v = -v
    return (o @ v).reshape(h, w).float(), v.float()


def cam_of(method, model, modules, layer, x, a, g, c, batch):
    """The map before ReLU [h, w] and the channel weights [k] (None for element-wise methods)."""
    if method == 'hirescam':
        return (g * a).sum(dim=1)[0], None
    if method == 'layercam':
        return (torch.relu(g) * a).sum(dim=1)[0], None
    if method == 'eigencam':
        return eigen_cam_map(a)
    if method == 'gradcam':
        alpha = g.mean(dim=(2, 3))[0]
    elif method == 'gradcampp':
        g2 = g ** 2
        denom = 2 * g2 + a.sum(dim=(2, 3), keepdim=True) * g ** 3
        alpha = (g2 / safe(denom) * torch.relu(g)).sum(dim=(2, 3))[0]
    elif method == 'xgradcam':
        alpha = (a * g).sum(dim=(2, 3))[0] / safe(a.sum(dim=(2, 3))[0])
    elif method == 'scorecam':
        alpha = score_cam_weights(model, x, a, c, batch)
    elif method == 'ablationcam':
        if layer not in modules:
            raise SystemExit(f'torch_gradcam: ablationcam needs a module layer, not {layer!r}')
        alpha = ablation_cam_weights(model, modules[layer], x, a, c, batch)
    else:
        raise SystemExit(f'torch_gradcam: unknown method {method!r}; use one of {", ".join(METHODS)}')
    return (alpha[None, :, None, None] * a).sum(dim=1)[0], alpha


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--arch', required=True, choices=['resnet18', 'vgg16'])
    ap.add_argument('--weights', required=True)
    ap.add_argument('--inputs', required=True, help='float32 NHWC [n, 224, 224, 3]')
    ap.add_argument('--layer', required=True, help='target layer; several comma-separated')
    ap.add_argument('--classes', default='', help='comma-separated class per image (default top-1)')
    ap.add_argument('--count', type=int, default=0, help='use the first N images (default all)')
    ap.add_argument('--method', default='gradcam', help=f'CAM methods, comma-separated: {", ".join(METHODS)}')
    ap.add_argument('--batch', type=int, default=32, help='inputs per forward pass (scorecam, ablationcam)')
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = build(args.arch, args.weights)
    raw = np.fromfile(args.inputs, dtype='<f4').reshape(-1, 224, 224, 3)
    if args.count:
        raw = raw[:args.count]
    classes = [int(c) for c in args.classes.split(',') if c != '']
    modules = dict(model.named_modules())
    out = []
    for layer in args.layer.split(','):
        for i in range(raw.shape[0]):
            x = torch.from_numpy(raw[i:i + 1].copy()).permute(0, 3, 1, 2).contiguous()
            store, handle = capture(model, layer)
            logits = model(x)
            handle.remove()
            a = store['a']  # [1, k, h, w]
            c = classes[i] if i < len(classes) else int(logits[0].argmax())
            methods = args.method.split(',')
            needs_grad = any(m not in GRADIENT_FREE for m in methods)
            g = torch.autograd.grad(logits[0, c], a)[0] if needs_grad else None
            for method in methods:
                pre, weights = cam_of(method, model, modules, layer, x, a.detach(), g, c, args.batch)
                cam = torch.relu(pre).detach()  # [h, w]
                raw_max = float(cam.max())
                lo, hi = float(cam.min()), float(cam.max())
                scaled = (cam - lo) / (hi - lo) if hi > lo else torch.zeros_like(cam)
                out.append({'method': method, 'layer': layer, 'index': i, 'classIndex': c, 'height': cam.shape[0],
                            'width': cam.shape[1], 'cam': scaled.flatten().tolist(), 'logit': float(logits[0, c]),
                            'rawMax': raw_max, 'weights': None if weights is None else weights.detach().tolist()})
    json.dump({'maps': out}, sys.stdout)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
