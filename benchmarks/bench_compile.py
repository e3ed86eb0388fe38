"""Does `torch.compile` bring a training step closer to its matmul floor on this CPU?

    python benchmarks/bench_compile.py                    # paper MLP and Transformer, a few minutes
    python benchmarks/bench_compile.py --models mlp --batch 8

Times the same `gtlib.train.train` step (forward, float64 loss, backward, fused AdamW, the test set
every ``eval_every`` steps) three ways, alternately in one process, median of the repeats:

- *eager*: as every run of this project trains;
- *compiled model*: ``torch.compile(model)`` (TorchInductor): forward and backward become generated
  C++ kernels, the loss and the optimiser stay eager;
- *compiled model and loss*: the float64 log-softmax loss compiled as well.

It also reports how far the compiled run's weights are from the eager run's after the same steps
(the compiled model and loss against eager):
a compiled step computes the same function with other rounding (fused kernels sum in another order),
so a compiled run is a different run to the bit, as one trained on another CPU is. The compile time
(first call, paid once per shape and process) is reported apart.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

import gtlib.train
from gtlib.metrics import task_loss
from gtlib.presets import dense_config
from gtlib.starting_points import build

SETTINGS = {"mlp": lambda: dense_config(scale="paper"),
            "transformer": lambda: dense_config(model="transformer", scale="paper")}


def model_for(cfg, batch: int):
    data, _ = build(cfg, torch.device("cpu"))
    model = cfg.model.build(cfg.task.build(cfg.seed), n_runs=batch)
    model.init_weights(list(range(batch)))
    return data, model


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--batch", type=int, default=1, help="runs trained as one batch")
    parser.add_argument("--steps", type=int, default=200, help="steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.batch} run(s) per batch, median of {args.repeats} x {args.steps} steps")
    print("| model | eager (ms/step) | compiled model | compiled model and loss | compile time (s) "
          "| max abs weight difference after the steps |")
    print("|---|---|---|---|---|---|")
    compiled_loss = torch.compile(task_loss, dynamic=False)
    for name in args.models:
        cfg = SETTINGS[name]()
        data, eager = model_for(cfg, args.batch)
        start_weights = eager.weights()
        variants = {"eager": (eager, task_loss)}
        _, plain = model_for(cfg, args.batch)
        variants["model"] = (torch.compile(plain, dynamic=False), task_loss)
        _, both = model_for(cfg, args.batch)
        variants["model+loss"] = (torch.compile(both, dynamic=False), compiled_loss)

        def step_fn(model, loss, steps):
            gtlib.train.task_loss = loss  # train() looks the loss up at call time
            try:
                return timed(lambda: gtlib.train.train(model, data, cfg.optim, steps, cfg.eval_every))
            finally:
                gtlib.train.task_loss = task_loss

        compile_s = {}
        for key, (model, loss) in variants.items():  # the first call compiles (train and test shapes)
            model.load_weights(start_weights)
            compile_s[key] = step_fn(model, loss, args.steps)
        times = {key: [] for key in variants}
        for _ in range(args.repeats):
            for key, (model, loss) in variants.items():
                times[key].append(step_fn(model, loss, args.steps) / args.steps * 1e3)
        ms = {key: statistics.median(t) for key, t in times.items()}
        # The same steps from the same start, eager against compiled model and loss.
        for key in ("eager", "model+loss"):
            model, loss = variants[key]
            model.load_weights(start_weights)
            step_fn(model, loss, args.steps)
        diff = max((eager.weights()[n] - both.weights()[n]).abs().max().item() for n in start_weights)
        first = compile_s["model"] - ms["model"] * args.steps / 1e3  # the first call less a timed one
        print(f"| {name} | {ms['eager']:.2f} | {ms['model']:.2f} ({ms['eager'] / ms['model']:.2f}x) "
              f"| {ms['model+loss']:.2f} ({ms['eager'] / ms['model+loss']:.2f}x) | {first:.0f} | {diff:.1e} |",
              flush=True)


if __name__ == "__main__":
    main()
