#!/usr/bin/env python3
"""scikit-learn side of scripts/bench_tsne.ts: runs TSNE on a float64 matrix file and writes the
embedding, so both embeddings can be scored by the same trustworthiness code.

usage: sklearn_tsne.py IN.f64 N D OUT.f64 [--perplexity 30] [--iterations 1000] [--seed 42] [--n-jobs 2]
Prints one JSON line: {"seconds": fit wall time, "cpu_seconds": CPU time of all threads, "sklearn": version, "threads": OpenMP threads}.
"""
import argparse
import json
import time

import numpy as np
import sklearn
from sklearn.manifold import TSNE
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("n", type=int)
    ap.add_argument("d", type=int)
    ap.add_argument("output")
    ap.add_argument("--perplexity", type=float, default=30.0)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--n-jobs", type=int, default=2)
    a = ap.parse_args()
    x = np.fromfile(a.input, dtype="<f8").reshape(a.n, a.d)
    model = TSNE(
        n_components=2,
        perplexity=a.perplexity,
        n_iter=a.iterations,
        init="pca",
        learning_rate="auto",
        method="barnes_hut",
        angle=0.5,
        random_state=a.seed,
        n_jobs=a.n_jobs,
    )
    t0 = time.perf_counter()
    c0 = time.process_time()
    y = model.fit_transform(x)
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0
    np.asarray(y, dtype="<f8").tofile(a.output)
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "sklearn": sklearn.__version__,
                      "threads": _openmp_effective_n_threads(), "iterations": int(model.n_iter_) + 1,
                      "kl": float(model.kl_divergence_)}))


if __name__ == "__main__":
    main()
