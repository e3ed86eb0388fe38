"""Training speed of the paper's models against the matmul-only floor of the same shapes.

    python benchmarks/bench_training.py                  # all models, batching (a few minutes)
    python benchmarks/bench_training.py --models mlp     # one model
    python benchmarks/bench_training.py --full           # also a whole 30k-step MLP run
    python benchmarks/bench_training.py --device cuda    # on a GPU (also counts host syncs)

*Step*: one iteration of `gtlib.train.train` on the model's paper-scale setting (full batch):
forward, loss, backward, fused AdamW, and, at the logging interval, the test forward and the weight
norms, exactly as in a paper-scale run.

*Floor*: only the matrix products of the same shapes, in plain torch without autograd: every forward
product X·W, its weight gradient Xᵀ·G and, unless X is data, its input gradient G·Wᵀ; plus the
test-set forward once per logging interval. These are the products the models really compute: for
the paper MLP W_in·W_E and W_U^T·W_out first, then the examples through width H; for the
Transformer the query, key and value tables of the p tokens, then W_O, the MLP and W_U. Step and
floor are timed in the same process, alternately, as the median over repeats.

*Batching*: ``--batch N`` runs of the same shapes trained as one computation (`gtlib.runs.run_many`
does this for sweeps), per run, against one run at a time (the paper MLP).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings

import torch

from gtlib.presets import dense_config
from gtlib.starting_points import build
from gtlib.train import resolve_device, train


DEVICE = torch.device("cpu")


def sync() -> None:
    if DEVICE.type == "cuda":  # kernels run asynchronously: wait for them before reading the clock
        torch.cuda.synchronize(DEVICE)


def median_ms(fn, steps: int) -> float:
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return (time.perf_counter() - start) / steps * 1e3


def products(cfg, n: int) -> list[tuple[int, int, int, bool]]:
    """The forward products (rows, inner, outer, input is data) of one step on ``n`` examples.

    A product whose input is data needs no input gradient."""
    model = cfg.model
    if model.name == "mlp":
        p, d, h = cfg.task.p, model.d_emb, model.d_hidden
        # W_in·W_E and W_U^T·W_out first, then the examples through width H (gtlib.models.PaperMLP)
        return [(h, d, p, False), (p, d, h, False), (n, p, h, True), (n, h, p, False)]
    if model.name == "transformer":
        p, d, m = cfg.task.p, model.d_model, model.d_mlp
        # query, key and value tables of the p tokens, then lookups (no products) for the examples
        return [(p, d, d, False), (p, d, d, False), (p, d, d, False),
                (n, d, d, False), (n, d, m, False), (n, m, d, False), (n, d, p, False)]  # W_O, MLP, W_U
    widths = [cfg.task.build(cfg.seed).x_train.shape[1], *model.hidden, 10]  # deep MLP (MNIST)
    return [(n, a, b, i == 0) for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))]


def floor_fn(cfg, steps: int):
    data = cfg.task.build(cfg.seed)
    n_train, n_test = len(data.y_train), len(data.y_test)
    def randn(*shape):
        return torch.randn(*shape, device=DEVICE)

    train_mm = [(randn(m, k), randn(k, o), randn(m, o), from_data)
                for m, k, o, from_data in products(cfg, n_train)]
    test_mm = [(randn(m, k), randn(k, o)) for m, k, o, _ in products(cfg, n_test)]

    def run():
        for step in range(steps):
            for x, w, g, from_data in train_mm:
                x @ w                       # forward
                x.T @ g                     # weight gradient
                if not from_data:
                    g @ w.T                 # input gradient
            if step % cfg.eval_every == 0:
                for x, w in test_mm:
                    x @ w

    return run


def compare(cfg, steps: int, repeats: int) -> tuple[float, float]:
    data, model = build(cfg, DEVICE)
    step_fn = lambda: train(model, data, cfg.optim, steps, cfg.eval_every)  # noqa: E731
    floor = floor_fn(cfg, steps)
    step_fn(), floor()  # warm up
    step_ms, floor_ms = [], []
    for _ in range(repeats):  # alternate, so both see the same machine state
        step_ms.append(median_ms(step_fn, steps))
        floor_ms.append(median_ms(floor, steps))
    return statistics.median(step_ms), statistics.median(floor_ms)


def host_syncs(cfg, steps: int = 200) -> str:
    """How often a GPU training loop waits for the device: torch warns at every synchronising call
    (a copy to the host, ``.item()``). Metrics must stay on the device until a logged step, so the
    count must grow with the logged steps only: it is measured logging every ``eval_every`` steps
    and logging only at the first and last step, and split into per logged step and the rest."""
    data, model = build(cfg, DEVICE)
    train(model, data, cfg.optim, 10, cfg.eval_every)  # warm up outside the count
    counts = {}
    for every in (cfg.eval_every, steps):
        torch.cuda.set_sync_debug_mode("warn")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train(model, data, cfg.optim, steps, every)
        torch.cuda.set_sync_debug_mode("default")
        counts[every] = (len(range(0, steps + 1, every)), len(caught))
    (logged_a, syncs_a), (logged_b, syncs_b) = counts.values()
    per_log = (syncs_a - syncs_b) / (logged_a - logged_b)
    rest = syncs_b - per_log * logged_b
    return (f"host syncs in {steps} paper-MLP steps: {syncs_a} logging every {cfg.eval_every} "
            f"({logged_a} logged steps), {syncs_b} logging twice: {per_log:.1f} per logged step, "
            f"{rest:.0f} at the other {steps + 1 - logged_b} steps")


SETTINGS = {
    "mlp": ("paper MLP, (a + b) mod 67", lambda: dense_config(scale="paper")),
    "transformer": ("one-layer Transformer, (a + b) mod 67",
                    lambda: dense_config(model="transformer", scale="paper")),
    "mnist": ("MNIST MLP 784-200-200-10, 1,000 images", lambda: dense_config("mnist", scale="paper")),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--steps", type=int, default=100, help="steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=4, help="MLP runs trained together (0: skip)")
    parser.add_argument("--full", action="store_true", help="also time a whole 30k-step MLP run")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    args = parser.parse_args()
    global DEVICE
    DEVICE = resolve_device(args.device)

    where = torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else platform.machine()
    print(f"device: {where}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    if DEVICE.type == "cuda":
        print(host_syncs(dense_config(scale="paper")))
    print("| model | training step (ms) | matmul-only floor (ms) | ratio |")
    print("|---|---|---|---|")
    for name in args.models:
        label, make = SETTINGS[name]
        step, low = compare(make(), args.steps, args.repeats)
        print(f"| {label} | {step:.2f} | {low:.2f} | {step / low:.2f}x |", flush=True)
    cfg = dense_config(scale="paper")
    if args.batch:
        data, _ = build(cfg, DEVICE)
        per_run = {}
        for size in (1, args.batch):
            model = cfg.model.build(cfg.task.build(cfg.seed), n_runs=size)
            model.init_weights(list(range(size)))
            model.to(DEVICE)
            fn = lambda: train(model, data, cfg.optim, args.steps, cfg.eval_every)  # noqa: E731
            fn()
            per_run[size] = statistics.median(median_ms(fn, args.steps) for _ in range(args.repeats)) / size
        print(f"\npaper MLP, per run and step: {per_run[args.batch]:.2f} ms with {args.batch} runs as one "
              f"batch, {per_run[1]:.2f} ms one run at a time ({per_run[1] / per_run[args.batch]:.2f}x "
              f"the throughput)")
    if args.full:
        data, model = build(cfg, DEVICE)
        sync()
        start = time.perf_counter()
        train(model, data, cfg.optim, cfg.steps, cfg.eval_every)
        sync()
        print(f"a whole paper-scale MLP run ({cfg.steps:,} steps): {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
