"""Training speed of the paper MLP against the matmul-only floor of the same shapes.

    python benchmarks/bench_training.py            # per-step times, batched sweeps (a few minutes)
    python benchmarks/bench_training.py --full     # also a whole 30k-step paper-scale run

*Step*: one iteration of `gtlib.train.train` on the paper's setting (911 training pairs, full batch):
forward, float64 cross-entropy, backward, fused AdamW, and, every 10 steps, the test forward on the
1,367 held-out pairs and the weight norms, exactly as in a paper-scale run.

*Floor*: only the matrix products of the same shapes, in plain torch without autograd: the forward
(the embedding written as the one-hot product of Eq. 1, then W_in, W_out, W_U), the three
input-gradient and four weight-gradient products of the backward pass, and a tenth of a test-set
forward. Both are timed in the same process, alternately, as the median over repeats.

*Batching*: ``--batch N`` runs of the same shapes trained as one computation (`gtlib.runs.run_many`
does this for sweeps), per run, against one run at a time.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from gtlib.experiments import base_config
from gtlib.runs import build
from gtlib.train import train


def median_ms(fn, steps: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) / steps * 1e3)
    return statistics.median(times)


def floor_fn(cfg, steps: int):
    """The same products as a training step, as plain matmuls on random data of the same shapes."""
    data = cfg.task.build(cfg.seed)
    n, n_test, p = len(data.y_train), len(data.y_test), cfg.task.p
    d, h = cfg.model.d_emb, cfg.model.d_hidden
    x, x_test = torch.randn(n, p), torch.randn(n_test, p)
    W_E, W_in, W_out, W_U = torch.randn(d, p), torch.randn(h, d), torch.randn(d, h), torch.randn(d, p)
    g_logits = torch.randn(n, p)

    def forward(x):
        e = x @ W_E.T
        hidden = e @ W_in.T
        o = hidden @ W_out.T
        return e, hidden, o, o @ W_U

    def run():
        for step in range(steps):
            e, hidden, o, _ = forward(x)
            g_o = g_logits @ W_U.T
            g_h = g_o @ W_out
            g_e = g_h @ W_in
            _ = (o.T @ g_logits, g_o.T @ hidden, g_h.T @ e, g_e.T @ x)  # weight gradients
            if step % cfg.eval_every == 0:
                forward(x_test)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--full", action="store_true", help="also time a whole 30k-step run")
    parser.add_argument("--batch", type=int, default=4, help="runs trained together (0: skip)")
    args = parser.parse_args()

    cfg = base_config(scale="paper")
    data, model = build(cfg)
    step_fn = lambda: train(model, data, cfg.optim, args.steps, cfg.eval_every)  # noqa: E731
    floor = floor_fn(cfg, args.steps)
    step_fn(), floor()  # warm up
    steps_ms, floor_ms = [], []
    for _ in range(args.repeats):  # alternate, so both see the same machine state
        steps_ms.append(median_ms(step_fn, args.steps, 1))
        floor_ms.append(median_ms(floor, args.steps, 1))
    step, low = statistics.median(steps_ms), statistics.median(floor_ms)
    print(f"machine: {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| measurement | ms per step |")
    print("|---|---|")
    print(f"| paper MLP training step (gtlib) | {step:.2f} |")
    print(f"| matmul-only floor, same shapes | {low:.2f} |")
    print(f"| ratio | {step / low:.2f}x |")
    if args.batch:
        sizes = (1, args.batch)
        per_run = {}
        for size in sizes:
            batched = cfg.model.build(cfg.task.build(cfg.seed), n_runs=size)
            batched.init_weights(list(range(size)))
            fn = lambda: train(batched, data, cfg.optim, args.steps, cfg.eval_every)  # noqa: E731
            fn()
            per_run[size] = median_ms(fn, args.steps, args.repeats) / size
        print(f"| {args.batch} runs as one batch, per run | {per_run[args.batch]:.2f} |")
        print(f"| the same runs one after another, per run | {per_run[1]:.2f} |")
        print(f"| throughput gain of batching | {per_run[1] / per_run[args.batch]:.2f}x |")
    if args.full:
        data, model = build(cfg)
        start = time.perf_counter()
        train(model, data, cfg.optim, cfg.steps, cfg.eval_every)
        wall = time.perf_counter() - start
        print(f"| whole paper-scale run ({cfg.steps:,} steps) | {wall:.0f} s in all |")


if __name__ == "__main__":
    main()
