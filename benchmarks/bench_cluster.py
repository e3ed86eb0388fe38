"""Throughput of a paper-scale sweep three ways: one process, a local Dask cluster, both combined.

    python benchmarks/bench_cluster.py                   # 8 tickets x 3,000 steps each way (minutes)
    python benchmarks/bench_cluster.py --steps 30        # a smoke test (seconds; timings meaningless)
    python benchmarks/bench_cluster.py --settings a c    # some of the settings only

*The sweep*: a fixed slice of the one behind Figures 3 and 4b, the grokked tickets of the paper MLP on
(a + b) mod 67 at sparsities 0.2, 0.3, ..., 0.9, masks from the last step of the committed dense run
of seed 0 (in results/, so the parent never trains), each ticket cut to ``--steps`` steps. Every
setting trains it with `gtlib.runs.run_many` into its own empty scratch store (reading results/),
with the usual logging, checkpoints, resume points and store writes of a real sweep:

(a1) one process, torch on 2 threads (``--threads``), one run at a time (how a sweep trains
    without batching);
(a) the same process, the runs as `run_many` batches (``--batch``, default 16: here one batch of 8
    runs);
(b) a `LocalCluster` of two single-threaded worker processes (``--workers``), one run per task: the
    cluster without batching;
(c) the same cluster, the runs batched, one batch per worker (8 runs: two batches of 4): both.

*Wall s* is the time of the `run_many` call, from the scratch store's first look-up to the last run
stored; starting the cluster (a few seconds, once per session) is printed apart, and each process
that trains (this one, each worker) first trains two 10-step tickets into a throwaway store, so that
no setting pays for imports and first calls. *run·steps/s* is
runs × steps / wall. The machine must be otherwise idle for the numbers to mean anything: two
processes sharing two cores with other work measure the other work. The load average is printed
before and after for that reason.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from gtlib import cluster
from gtlib.config import derive
from gtlib.presets import dense_config
from gtlib.runs import run_many
from gtlib.store import Store

SPARSITIES = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
SETTINGS = {
    "a1": "(a1) one process, {threads} threads, one run at a time",
    "a": "(a) one process, {threads} threads, batched",
    "b": "(b) LocalCluster, {workers} single-threaded workers, one run per task",
    "c": "(c) LocalCluster, {workers} single-threaded workers, one batch per worker",
}


def sweep(steps: int, sparsities=SPARSITIES, seed: int = 0):
    """The committed dense run (paper scale) and its tickets, each cut to ``steps`` steps."""
    dense = dense_config(scale="paper", seed=seed, checkpoint_every=None)
    return dense, [derive(dense, sparsity=s, steps=steps) for s in sparsities]


def timed(runs, store: Store, **kwargs) -> float:
    """Seconds to train ``runs`` into ``store``; checks that only they were trained (no parent)."""
    start = time.perf_counter()
    done = run_many(runs, store, progress=False, device="cpu", **kwargs)
    wall = time.perf_counter() - start
    stored = sorted(p.name for p in (store.root / "runs").iterdir())
    assert stored == sorted(c.key for c in runs), "the scratch store holds other runs than the tickets"
    assert all(r.path.parent.parent == store.root for r in done)
    return wall


def warm_up(store: Store, **kwargs) -> None:
    """Two 10-step tickets (one per worker with ``batch=1`` on a cluster), not timed."""
    _, runs = sweep(10, SPARSITIES[:2])
    run_many(runs, store, progress=False, device="cpu", **kwargs)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="steps of each ticket")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--threads", type=int, default=2, help="torch threads of setting (a)")
    parser.add_argument("--batch", type=int, default=16, help="largest batch of setting (a)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of (b) and (c)")
    parser.add_argument("--scratch", type=Path, help="where the scratch stores go (default: a "
                        "temporary folder, removed at the end)")
    args = parser.parse_args()

    read_only = Store.default().read_only
    dense, runs = sweep(args.steps)
    if Store.default().find(dense) is None:
        raise SystemExit(f"the committed dense run {dense.label} ({dense.key}) is not in "
                         f"{', '.join(map(str, read_only))}; this benchmark starts from it")
    torch.set_num_threads(args.threads)
    print(f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; load average "
          f"{load()} before")
    print(f"sweep: {len(runs)} paper-MLP tickets of {dense.label} (sparsities "
          f"{', '.join(f'{s:g}' for s in SPARSITIES)}), {args.steps:,} steps each, from empty stores")
    walls: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
        def store(name: str) -> Store:
            return Store(Path(scratch) / name, read_only)

        if {"a", "a1"} & set(args.settings):
            warm_up(store("warm-up a"))
        if "a1" in args.settings:
            walls["a1"] = timed(runs, store("a1"), batch=1)
        if "a" in args.settings:
            walls["a"] = timed(runs, store("a"), batch=args.batch)
        if {"b", "c"} & set(args.settings):
            start = time.perf_counter()
            client = cluster.connect("local", n_workers=args.workers)
            print(f"starting the LocalCluster of {args.workers} workers: "
                  f"{time.perf_counter() - start:.1f} s (not in the table)")
            try:
                warm_up(store("warm-up cluster"), batch=1, executor=client)
                if "b" in args.settings:
                    walls["b"] = timed(runs, store("b"), batch=1, executor=client)
                if "c" in args.settings:
                    walls["c"] = timed(runs, store("c"), batch=math.ceil(len(runs) / args.workers),
                                       executor=client)
            finally:
                cluster.close(client)
    print(f"load average {load()} after\n")
    work = len(runs) * args.steps
    print("| setting | runs | steps | wall s | run·steps/s | speed-up vs (a) |")
    print("|---|---|---|---|---|---|")
    for name, wall in walls.items():
        label = SETTINGS[name].format(threads=args.threads, workers=args.workers)
        speedup = f"{walls['a'] / wall:.2f}x" if "a" in walls else "n/a"
        print(f"| {label} | {len(runs)} | {args.steps:,} | {wall:.1f} | {work / wall:,.0f} | {speedup} |")


if __name__ == "__main__":
    main()
