"""Training speed of the paper's models against the matmul-only floor of the same shapes.

    python benchmarks/bench_training.py                  # every model, 1, 4 and 16 runs (minutes)
    python benchmarks/bench_training.py --models mlp --runs 1   # one model, one batch size
    python benchmarks/bench_training.py --full           # also a whole 30k-step MLP run
    python benchmarks/bench_training.py --device cuda    # on a GPU (also counts host syncs)

*Step*: one iteration of `gtlib.train.train` on the model's paper-scale setting (full batch):
forward, loss, backward, fused AdamW, and, at the logging interval, the test forward and the weight
norms, exactly as in a paper-scale run. Three ways, each one parameter of `train`:
*autograd* (``gradients="autograd"``, the reference), *hand-written with the float64 loss gradient*
(`gtlib.steps`, bit for bit the autograd step; the default), and *hand-written with the float32
loss gradient* (other rounding). The MNIST MLP is trained with the mean squared error, which has no
float64 variant: its last two ways are the same.

*Floor*: only the matrix products of the same shapes, in plain torch without autograd: every forward
product X·W, its weight gradient Xᵀ·G and, unless X is data, its input gradient G·Wᵀ; plus the
test-set forward once per logging interval. These are the products the models really compute: for
the paper MLP W_in·W_E and W_U^T·W_out first, then the examples through width H; for the
Transformer the query, key and value tables of the p tokens, then W_O, the MLP and W_U. With R runs
trained together every product carries the run axis (a batched product, as in the models).

Everything is timed in one process, the ways and the floor alternately so that all see the same
machine state, as the median over repeats; times are per run and step.
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
WAYS = {"autograd": {"gradients": "autograd"},
        "hand-written, float64 loss gradient (default)": {"loss_gradient": "float64"},
        "hand-written, float32 loss gradient": {"loss_gradient": "float32"}}
DEFAULT = "hand-written, float64 loss gradient (default)"


def sync() -> None:
    if DEVICE.type == "cuda":  # kernels run asynchronously: wait for them before reading the clock
        torch.cuda.synchronize(DEVICE)


def timed_ms(fn, steps: int) -> float:
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


def floor_fn(cfg, n_runs: int, steps: int):
    data = cfg.task.build(cfg.seed)
    n_train, n_test = len(data.y_train), len(data.y_test)

    def randn(*shape):
        return torch.randn(n_runs, *shape, device=DEVICE)

    train_mm = [(randn(m, k), randn(k, o), randn(m, o), from_data)
                for m, k, o, from_data in products(cfg, n_train)]
    test_mm = [(randn(m, k), randn(k, o)) for m, k, o, _ in products(cfg, n_test)]

    def run():
        for step in range(steps):
            for x, w, g, from_data in train_mm:
                x @ w                                   # forward
                x.transpose(1, 2) @ g                   # weight gradient
                if not from_data:
                    g @ w.transpose(1, 2)               # input gradient
            if step % cfg.eval_every == 0:
                for x, w in test_mm:
                    x @ w

    return run


def batch(cfg, n_runs: int):
    """The data and a model of ``n_runs`` runs (seeds 0 ... R-1) of ``cfg``'s shapes, as
    `gtlib.runs.run_many` trains a sweep."""
    data, _ = build(cfg, DEVICE)
    model = cfg.model.build(cfg.task.build(cfg.seed), n_runs=n_runs)
    model.init_weights(list(range(n_runs)))
    return data, model.to(DEVICE)


def compare(cfg, n_runs: int, steps: int, repeats: int) -> dict[str, float]:
    """Median ms per run and step of each way of training, and of the floor."""
    fns = {}
    for way, options in WAYS.items():
        data, model = batch(cfg, n_runs)
        fns[way] = (lambda m=model, d=data, o=options:
                    train(m, d, cfg.optim, steps, cfg.eval_every, **o))
    fns["floor"] = floor_fn(cfg, n_runs, steps)
    for fn in fns.values():
        fn()  # warm up
    times = {name: [] for name in fns}
    for _ in range(repeats):  # alternate, so all see the same machine state
        for name, fn in fns.items():
            times[name].append(timed_ms(fn, steps) / n_runs)
    return {name: statistics.median(t) for name, t in times.items()}


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
    parser.add_argument("--runs", nargs="+", type=int, default=[1, 4, 16],
                        help="batch sizes: runs trained together")
    parser.add_argument("--steps", type=int, default=100, help="steps per timed repeat (one run)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="also time a whole 30k-step MLP run")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    args = parser.parse_args()
    if min(args.runs) < 1 or args.steps < 1 or args.repeats < 1:
        parser.error("--runs, --steps and --repeats must be positive")
    global DEVICE
    DEVICE = resolve_device(args.device)

    where = (torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda"
             else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} CPU threads")
    print(f"device: {where}, torch {torch.__version__}")
    if DEVICE.type == "cuda":
        print(host_syncs(dense_config(scale="paper")))
    print("\nms per run and step (median of repeats); ratio: the default step (hand-written, float64 "
          "loss gradient) over its matmul floor\n")
    print(f"| model | runs | floor | {' | '.join(WAYS)} | ratio |")
    print("|---|---|---|" + "---|" * len(WAYS) + "---|")
    for name in args.models:
        label, make = SETTINGS[name]
        for n_runs in args.runs:
            # fewer steps for larger batches, but at least 30: a repeat also pays train()'s set-up
            # and its first and last logged steps
            cfg = make()
            steps = max(30, args.steps // n_runs // cfg.eval_every * cfg.eval_every)
            ms = compare(cfg, n_runs, steps, args.repeats)
            ways = " | ".join(f"{ms[w]:.2f}" for w in WAYS)
            print(f"| {label} | {n_runs} | {ms['floor']:.2f} | {ways} | "
                  f"{ms[DEFAULT] / ms['floor']:.2f}x |", flush=True)
    if args.full:
        cfg = dense_config(scale="paper")
        data, model = build(cfg, DEVICE)
        sync()
        start = time.perf_counter()
        train(model, data, cfg.optim, cfg.steps, cfg.eval_every)
        sync()
        print(f"\na whole paper-scale MLP run ({cfg.steps:,} steps): {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
