"""Getting a run: from the store if it is there, otherwise trained (parents first) and stored.

``run(cfg)`` is the one entry point every notebook and experiment uses. For a derived run it first
gets the parent run (training it if missing), scores the parent's weights at the mask step, keeps
the mask, and rewinds to the parent's θ0 (paper §2: f(x; θ0 ⊙ m)).
"""
from __future__ import annotations

import datetime
import platform
import subprocess
import time
from concurrent.futures import Executor
from typing import Iterable

import numpy as np
import torch

from . import __version__, metrics
from .config import RunConfig, to_json
from .pruning import prune
from .store import REPO_ROOT, Run, Store
from .train import resolve_device, train


def build(cfg: RunConfig, device: torch.device | str = "cpu"):
    """The run's data (with a leading run axis of 1) and its model, initialised from its seed."""
    data = cfg.task.build(cfg.seed)
    model = cfg.model.build(data, n_runs=1)
    model.init_weights([cfg.seed])
    data = data.to(device)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        setattr(data, name, getattr(data, name).unsqueeze(0))
    return data, model.to(device)


def _add_run_axis(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {n: t.unsqueeze(0) for n, t in tensors.items()}


def _drop_run_axis(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {n: t[0].detach().cpu().clone() for n, t in tensors.items()}


def starting_point(cfg: RunConfig, store: Store, device, progress: bool):
    """Data and model ready to train: θ0 from the seed, or, for a derived run, the parent's θ0
    under the mask scored on the parent's weights at the mask step."""
    data, model = build(cfg, device)
    if cfg.mask is None:
        return data, model
    spec = cfg.mask
    if spec.resolved_step == 0 and spec.parent.mask is None:
        # Pruning at initialisation: the parent's θ0 is this run's own seeded θ0 (same task, model
        # and seed), so the parent need not be trained.
        theta0 = model.weights()
    else:
        parent = run(spec.parent, store, device=device, progress=progress)
        theta0 = _add_run_axis(parent.weights(0))
        model.load_weights(_add_run_axis(parent.weights(spec.resolved_step)))
        model.set_masks(_add_run_axis(parent.masks()))  # score what the parent computes with
    masks = prune(model, data, spec.pruner, spec.sparsity, seed=cfg.seed)
    if spec.use == "mask":
        model.load_weights(theta0)  # rewind to θ0
        model.set_masks(masks)
        return data, model
    # The norm-matched dense control: θ0 scaled by one scalar per run, no mask.
    p = {"l1_norm": 1, "l2_norm": 2}[spec.use]
    ratio = metrics.norm_ratio(theta0, masks, p, per_matrix=spec.norm_ratio == "per_matrix")
    scale = lambda n: ratio.view(-1, *[1] * (theta0[n].dim() - 1)) if n in masks else 1.0  # noqa: E731
    model.load_weights({n: w * scale(n) for n, w in theta0.items()})
    model.set_masks({n: torch.ones_like(m) for n, m in masks.items()})
    return data, model


def git_revision() -> str:
    """The repository's commit, with ``-dirty`` when tracked files differ from it."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(cfg: RunConfig, store: Store | None = None, *, device: str = "auto", force: bool = False,
        progress: bool = True) -> Run:
    """The finished run for ``cfg``: loaded from the store, or trained and stored.

    ``force=True`` retrains this run (not its parents). An interrupted run resumes from its last
    checkpoint. The device is chosen automatically (CUDA, then MPS, then CPU) and recorded only in
    the run's provenance.
    """
    store = store or Store.default()
    if not force and _satisfies(found := store.load(cfg), cfg):
        return found
    dev = resolve_device(device)
    with store.lock(cfg):
        if not force and _satisfies(found := store.load(cfg), cfg):
            return found  # another process finished it while we waited
        data, model = starting_point(cfg, store, dev, progress)
        writer = store.writer(cfg)
        writer.save_masks(_drop_run_axis(model.masks()))
        resume = writer.resume_state()
        if resume is not None:
            resume["weights"] = {n: w.to(dev) for n, w in resume["weights"].items()}

        def on_checkpoint(step, weights, state):
            writer.save_checkpoint(step, _drop_run_axis(weights), state)

        start = time.perf_counter()
        history = train(model, data, cfg.optim, cfg.steps, cfg.eval_every, cfg.checkpoint_steps,
                        on_checkpoint=on_checkpoint, resume=resume, progress=progress,
                        desc=cfg.label)
        wall = time.perf_counter() - start
        writer.finish(history.run(0), provenance(cfg, dev, wall, resume))
    return store.load(cfg)


def _satisfies(found: Run | None, cfg: RunConfig) -> bool:
    """A stored run serves a request if it holds every checkpoint the request asks to keep."""
    return found is not None and set(cfg.checkpoint_steps) <= set(found.checkpoint_steps)


def provenance(cfg: RunConfig, device: torch.device, wall: float, resume: dict | None) -> dict:
    return {
        "key": cfg.key, "label": cfg.label, "config": to_json(cfg),
        "device": str(device), "threads": torch.get_num_threads(),
        "wall_seconds": round(wall, 2), "resumed_from_step": resume["step"] if resume else None,
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git": git_revision(), "gtlib": __version__, "python": platform.python_version(),
        "torch": torch.__version__, "numpy": np.__version__,
    }


def run_many(cfgs: Iterable[RunConfig], store: Store | None = None, *, executor: Executor | None = None,
             **kwargs) -> list[Run]:
    """Get every run of a sweep. With a ``concurrent.futures`` executor (a process pool, a Dask
    client) the runs are trained there; the store on a shared filesystem is what workers share."""
    cfgs = list(cfgs)
    store = store or Store.default()
    if executor is None:
        return [run(cfg, store, **kwargs) for cfg in cfgs]
    futures = [executor.submit(run, cfg, store, **kwargs) for cfg in cfgs]
    return [f.result() for f in futures]
