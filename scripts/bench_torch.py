#!/usr/bin/env python3
"""The PyTorch peer of `npm run bench`: the same workloads, shapes and batch sizes as dnnkit's side.

Usage: bench_torch.py WORKLOAD --threads N [--steps K]
Prints one JSON object: {"workload", "threads", "throughput", "unit", "seconds", "items"}.
Workloads: mnist-cnn-train, resnet18-infer, vgg16-infer, lstm-train.
"""
import argparse
import json
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('workload')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--batch', type=int, default=0)
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
    else:
        raise SystemExit(f'unknown workload {a.workload}')
    seconds = timed(step, 2, a.steps)
    items = batch * a.steps
    print(json.dumps({'workload': a.workload, 'threads': a.threads, 'throughput': items / seconds,
                      'unit': unit, 'seconds': seconds, 'items': items}))


if __name__ == '__main__':
    main()
