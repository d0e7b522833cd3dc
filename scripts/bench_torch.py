#!/usr/bin/env python3
"""The PyTorch peer of `npm run bench`: the same workloads, shapes and batch sizes as dnnkit's side.

Usage: bench_torch.py WORKLOAD --threads N [--steps K] [--batch B] [--weights W.pth --inputs X.f32]
Prints one JSON object: {"workload", "threads", "throughput", "unit", "seconds", "items"}.
Workloads: mnist-cnn-train, resnet18-infer, vgg16-infer, lstm-train, and the explainers
resnet18-gradcam, resnet18-scorecam, resnet18-ig: one image explained per step by the reference
implementations dnnkit's oracle tests use (torch_gradcam.py, torch_cam_attributions.py), on the
checkpoint --weights (scripts/torch_fixtures.py) and the first image of --inputs (float32 NHWC).
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn


def mnist_cnn():
    # conv32-pool-conv64-pool-dense128-dense10 with dropout, as dnnkit's buildMnistCnn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(1600, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))


class LstmClassifier(nn.Module):
    def __init__(self, vocab, emb, hidden):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x):
        _, (h, _) = self.lstm(self.emb(x))
        return self.out(h[-1]).squeeze(-1)


def timed(step, warmup, steps):
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t0


def explain_step(workload, weights, inputs, batch):
    """One image's explanation as dnnkit's defaults compute it: Grad-CAM / Score-CAM at layer4.1
    (512 masks, `batch` per pass), IG with 64 steps from black (`batch` path points per pass)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import numpy as np
    import torch_cam_attributions
    import torch_gradcam
    model = (torch_gradcam.build if workload != 'resnet18-ig' else torch_cam_attributions.build)('resnet18', weights)
    raw = np.fromfile(inputs, dtype='<f4').reshape(-1, 224, 224, 3)[:1]
    x = torch.from_numpy(raw.copy()).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        c = int(model(x)[0].argmax())
    if workload == 'resnet18-ig':
        mean = torch.tensor([0.485, 0.456, 0.406])
        std = torch.tensor([0.229, 0.224, 0.225])
        baseline = (-mean / std)[None, :, None, None].expand_as(x).contiguous()  # black, normalised
        return lambda: torch_cam_attributions.integrated_gradients(model, x, baseline, c, 64, batch)
    method = workload[len('resnet18-'):]
    modules = dict(model.named_modules())

    def step():
        store, handle = torch_gradcam.capture(model, 'layer4.1')
        with torch.set_grad_enabled(method == 'gradcam'):
            logits = model(x)
        handle.remove()
        a = store['a']
        g = torch.autograd.grad(logits[0, c], a)[0] if method == 'gradcam' else None
        pre, _ = torch_gradcam.cam_of(method, model, modules, 'layer4.1', x, a.detach(), g, c, batch)
        cam = torch.relu(pre).detach()
        lo, hi = cam.min(), cam.max()
        return (cam - lo) / (hi - lo) if hi > lo else torch.zeros_like(cam)
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('workload')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--batch', type=int, default=0)
    ap.add_argument('--weights', help='explainer workloads: the torchvision ResNet-18 state_dict')
    ap.add_argument('--inputs', help='explainer workloads: float32 NHWC [n, 224, 224, 3] (the first image is used)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.workload == 'mnist-cnn-train':
        batch = a.batch or 128
        model = mnist_cnn()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = torch.rand(batch, 1, 28, 28)
        y = torch.randint(0, 10, (batch,))
        loss_fn = nn.CrossEntropyLoss()

        def step():
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        unit = 'samples/s'
    elif a.workload in ('resnet18-infer', 'vgg16-infer'):
        import torchvision
        batch = a.batch or (16 if a.workload == 'resnet18-infer' else 4)
        model = (torchvision.models.resnet18() if a.workload == 'resnet18-infer' else torchvision.models.vgg16()).eval()
        x = torch.rand(batch, 3, 224, 224)

        def step():
            with torch.no_grad():
                model(x)
        unit = 'img/s'
    elif a.workload == 'lstm-train':
        batch = a.batch or 64
        model = LstmClassifier(15000, 128, 128)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = torch.randint(0, 15000, (batch, 50))
        y = torch.randint(0, 2, (batch,)).float()
        loss_fn = nn.BCEWithLogitsLoss()

        def step():
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        unit = 'samples/s'
    elif a.workload in ('resnet18-gradcam', 'resnet18-scorecam', 'resnet18-ig'):
        if not a.weights or not a.inputs:
            raise SystemExit(f'{a.workload} needs --weights and --inputs (scripts/torch_fixtures.py)')
        step = explain_step(a.workload, a.weights, a.inputs, a.batch or 16)
        seconds = timed(step, 1, a.steps)
        print(json.dumps({'workload': a.workload, 'threads': a.threads, 'throughput': a.steps / seconds,
                          'unit': 'img/s', 'seconds': seconds, 'items': a.steps}))
        return
    else:
        raise SystemExit(f'unknown workload {a.workload}')
    seconds = timed(step, 2, a.steps)
    items = batch * a.steps
    print(json.dumps({'workload': a.workload, 'threads': a.threads, 'throughput': items / seconds,
                      'unit': unit, 'seconds': seconds, 'items': items}))


if __name__ == '__main__':
    main()
