"""A batched sweep of paper-MLP runs, end to end through the run store, on one device.

    python benchmarks/bench_sweep.py --device cuda --runs 16            # 16 seeds, 30k steps each
    python benchmarks/bench_sweep.py --device cpu --runs 4 --steps 2000  # a slice, on the CPU

Every run is a dense paper-MLP run on (a + b) mod 67 with its own seed (hence its own split and
initialisation), trained by `gtlib.runs.run_many` into an empty scratch store: one batched
computation of ``--runs`` runs, with the standard logging, checkpoints, resume points and store
writes of a real sweep. Prints the wall time, the time of one batched step, and the throughput in run
steps per second. The first run is compared with a run of seed 0 trained alone on the same device,
which a batch must not change beyond float rounding.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from gtlib.presets import dense_config
from gtlib.runs import run_many
from gtlib.store import Store
from gtlib.train import resolve_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--runs", type=int, default=16, help="seeds trained as one batch")
    parser.add_argument("--steps", type=int, help="steps per run (default: the paper's 30k)")
    args = parser.parse_args()
    if args.runs < 1:
        raise SystemExit(f"--runs must be at least 1, got {args.runs}")
    device = resolve_device(args.device)
    changes = {"steps": args.steps} if args.steps else {}
    cfgs = [dense_config(scale="paper", seed=s, **changes) for s in range(args.runs)]
    steps = cfgs[0].steps
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryDirectory() as empty:
        store = Store(scratch, read_only=(empty,))
        start = time.perf_counter()
        runs = run_many(cfgs, store, device=str(device), progress=False, batch=args.runs)
        wall = time.perf_counter() - start
        alone = run_many(cfgs[:1], Store(f"{scratch}/alone", read_only=(empty,)), device=str(device),
                         progress=False)[0]
    first, single = runs[0].history, alone.history
    gap = max(float(np.max(np.abs(first[k] - single[k]))) for k in ("train_loss", "test_acc"))
    print(f"device: {where}, torch {torch.__version__}")
    print(f"{args.runs} paper-MLP runs x {steps:,} steps as one batch: {wall:.1f} s wall, "
          f"{wall / steps * 1e3:.2f} ms per batched step, {args.runs * steps / wall:,.0f} run steps/s")
    print(f"seed 0 in the batch vs alone: largest difference in train loss / test accuracy {gap:.2e}; "
          f"t_gen {first.t_gen} vs {single.t_gen}")
    print("test accuracy at the end, per seed:", " ".join(f"{r.history['test_acc'][-1]:.3f}" for r in runs))


if __name__ == "__main__":
    main()
