"""Benchmark: the analyses of a whole paper-scale run, from its checkpoints.

    .venv/bin/python benchmarks/bench_analysis.py

Times, on the committed dense run of Figures 1, 4a and 7 (30k steps, 16 checkpoints every 2k), the
analyses behind Figures 7, 9 and 20: the ticket masks and their Jaccard distances, and the graph
metrics of every layer at every checkpoint (two singular values per layer; path lengths with scipy,
clustering with networkx). Reading the checkpoints (with their checksums) is timed on its own.
Median of 3 repeats, with torch's default threads.
"""
from __future__ import annotations

import statistics
import time

import torch

from gtlib.analysis.graphs import layer_metrics
from gtlib.analysis.masks import distances_over_training, magnitude_masks
from gtlib.presets import dense_config
from gtlib.store import Store


def timed(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    run = Store.default().load(dense_config(scale="paper"))
    if run is None or len(run.checkpoint_steps) < 3:
        raise SystemExit("the committed paper-scale dense run with its checkpoints is missing")
    steps = run.checkpoint_steps
    names = list(run.masks())
    weights = {t: run.weights(t) for t in steps}
    read = timed(lambda: {t: run.weights(t) for t in steps})
    jaccard = timed(lambda: distances_over_training(weights, 0.6, names))

    def graphs():
        for t in steps:
            masks = magnitude_masks(weights[t], 0.6, names)
            for n in names:
                layer_metrics(weights[t][n].numpy(), masks[n].numpy())

    graph = timed(graphs, repeats=1)
    print(f"{len(steps)} checkpoints, {len(names)} layers, torch threads {torch.get_num_threads()}")
    print(f"| analysis | seconds |\n|---|---|\n| read the checkpoints (checksums checked) | {read:.2f} |")
    print(f"| masks and Jaccard distances (Fig 7) | {jaccard:.2f} |")
    print(f"| graph metrics of every layer (Fig 9, 20) | {graph:.2f} |")


if __name__ == "__main__":
    main()
