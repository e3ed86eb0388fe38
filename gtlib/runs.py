"""Getting a run: from the store if it is there, otherwise trained (parents first) and stored.

``run(cfg)`` and ``run_many(cfgs)`` are the entry points of every figure family. This module only
orchestrates: what is missing, in which order and batches, under which locks, and where (in this
process, or on a Dask cluster: `gtlib.cluster`); how a derived run starts (its mask, rewinding, norm
matching) is `gtlib.starting_points`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import Executor
from typing import Any, Iterable, NamedTuple

import numpy as np
import torch

from . import __version__, edge_popup, starting_points
from .config import SCHEMA, RunConfig, to_json
from .paths import REPO_ROOT, SCHEDULER_ENV
from .resume import ResumeState
from .starting_points import needs_parent
from .steps import LOSS_GRADIENT, LOSS_GRADIENT_ENV, Step, check_choices
from .store import CorruptRunError, Run, Store
from .tasks import Dataset
from .train import resolve_device, train


def starting_point(cfg: RunConfig, store: Store, device, progress: bool):
    """Data and model ready to train ``cfg`` (`starting_points`), its parent trained first if the
    start needs it and it is missing."""
    parent = run(cfg.mask.parent, store, device=device, progress=progress) if needs_parent(cfg) else None
    return starting_points.starting_point(cfg, parent, device)


# What trains a run: the package, the pinned environment, and the notebooks (a page may define its
# own task, as own_task.ipynb does). A change anywhere else (the README, the book) changes no run,
# so it does not make a revision dirty.
TRAINING_CODE = ("gtlib", "notebooks", "requirements.txt", "pyproject.toml")
COMMITTED = REPO_ROOT / "results"  # the committed runs: only from code that can be checked out


@functools.lru_cache(maxsize=None)
def git_revision() -> str:
    """The commit this process's code came from, with ``-dirty`` when the training code
    (`TRAINING_CODE`: tracked changes or new files) differs from it; "unknown" outside a git checkout.
    Read once per process: the code a process trains with is what it imported when it started."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--",
                                *TRAINING_CODE], cwd=REPO_ROOT, capture_output=True, text=True,
                               check=True).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def check_committable(store: Store, n_runs: int) -> None:
    """Refuse, before any training, to write runs into the committed ``results/`` from code that no
    commit holds: a committed run's provenance names a commit that trained it, so it can be
    checked out and run again. (Recording the diff beside each run instead was the other choice; a
    diff cannot be checked out, and it grows every run folder.)"""
    if store.root.resolve() != COMMITTED.resolve():
        return
    revision = git_revision()
    if revision == "unknown" or revision.endswith("-dirty"):
        state = "no git checkout" if revision == "unknown" else f"changes to {', '.join(TRAINING_CODE)} since {revision[:10]}"
        raise RuntimeError(f"refusing to train {n_runs} run(s) into results/ from {state}: commit "
                           f"first (committed runs must name the commit that trained them), or train "
                           f"into another store (GTLIB_STORE)")


def run(cfg: RunConfig, store: Store | None = None, *, device: str = "auto",
        progress: bool = True, resume_every: int = 1000, loss_gradient: str | None = None) -> Run:
    """The finished run for ``cfg``: loaded from the store (its own folder, or that of a run of the
    same training that keeps more: `Store.find`), or trained and stored.

    An interrupted run resumes from its last checkpoint, or from its last resume point (every
    ``resume_every`` steps), whichever is later. The device is chosen automatically (CUDA, then
    MPS, then CPU) and recorded only in the run's provenance. A stored run is never trained again:
    to recompute one, train into another store (``$GTLIB_STORE``).
    """
    return run_many([cfg], store, device=device, progress=progress, resume_every=resume_every,
                    loss_gradient=loss_gradient)[0]


def run_many(cfgs: Iterable[RunConfig], store: Store | None = None, *, device: str = "auto",
             progress: bool = True, batch: int = 16, resume_every: int = 1000,
             executor: Any = None, loss_gradient: str | None = None) -> list[Run]:
    """Every run of a sweep, trained where missing.

    Runs that differ only in seed, mask or the checkpoints they keep (seeds, sparsities, pruners,
    ticket steps) train together, up to ``batch`` at a time, as one batched computation:
    their weights share a leading run axis and each run computes what it would alone (runs never
    mix: the loss is a sum of per-run losses and AdamW is elementwise). The rounding can differ: BLAS
    may pick other kernels for other batch shapes (measured on a GPU; see the README), and a long
    grokking run amplifies it. A missing parent of a derived run trains first, in a batch of its own;
    an interrupted run trains in a batch of the runs interrupted at the same step.

    Where the batches train: with a Dask client as ``executor``, or by default on the cluster that
    ``$GTLIB_SCHEDULER`` names (`gtlib.cluster`), as a task graph in which each batch waits for the
    batches that train its runs' parents; the workers write into the store, which must lie on a
    filesystem they share. With a ``concurrent.futures`` executor, on its workers, one depth of
    ancestry after another. Otherwise in this process, one batch after another. Each way trains the
    same batches, so gives the same results, bit for bit: where a run was trained never changes it.
    The price, on a cluster: a group smaller than ``batch`` is one task on one worker; a smaller
    ``batch`` (the group's size over the workers) spreads it, with other rounding.

    ``loss_gradient`` (default ``$GTLIB_LOSS_GRADIENT``, else `gtlib.steps.LOSS_GRADIENT`) is the
    precision of the loss gradient (`gtlib.steps`): a choice of rounding, not of what a run computes,
    so it is recorded in each run's provenance, not in its key.
    """
    cfgs = list(cfgs)
    loss_gradient = loss_gradient or os.environ.get(LOSS_GRADIENT_ENV) or LOSS_GRADIENT
    check_choices("manual", loss_gradient)
    store = store or Store.default()
    batches = _plan(cfgs, store, max(batch, 1))
    if batches:
        check_committable(store, sum(len(b.runs) for b in batches))
    # The revision of this process's code, recorded by every batch wherever it trains (a Dask worker
    # runs the same code, `gtlib.cluster` checks that, but may lack the checkout's git).
    kwargs = dict(store=store, device=device, progress=progress, resume_every=resume_every,
                  revision=git_revision() if batches else "unknown", loss_gradient=loss_gradient)
    if batches and executor is None and os.environ.get(SCHEDULER_ENV, "").strip():
        from .cluster import client  # Dask: imported only where a cluster is used
        executor = client()
    if executor is None:
        for b in batches:
            _train_alone(_train_batch(b.runs, **kwargs), kwargs)
    elif isinstance(executor, Executor):
        for depth in sorted({b.depth for b in batches}):  # parents' batches finish first
            futures = [executor.submit(_train_batch, b.runs, **kwargs) for b in batches if b.depth == depth]
            for future in futures:
                _train_alone(future.result(), kwargs)
    else:  # a Dask client
        from .cluster import Task, run_graph
        shared = Store(store.root.resolve(), tuple(p.resolve() for p in store.read_only))
        tasks = [Task(_train_batch_everywhere, (b.runs,), {**kwargs, "store": shared, "progress": False},
                      b.after, _label(b.runs)) for b in batches]
        run_graph(executor, tasks, shared, progress=progress)
    return [store.load(c) for c in cfgs]


def missing(cfgs: Iterable[RunConfig], store: Store | None = None) -> list[RunConfig]:
    """The runs that `run_many` would train for ``cfgs``, parents first (nothing is trained)."""
    return [c for b in _plan(list(cfgs), store or Store.default(), 16) for c in b.runs]


def _train_alone(leftovers: list[RunConfig], kwargs: dict) -> None:
    """Train, each in a batch of its own, the runs that `_train_batch` left out because another
    process had interrupted them at another step meanwhile."""
    for cfg in leftovers:
        if _train_batch([cfg], **kwargs):
            raise RuntimeError(f"run {cfg.label} ({cfg.key}) was left out of its own batch")


def _train_batch_everywhere(cfgs: list[RunConfig], **kwargs) -> None:
    """`_train_batch` and then its leftovers, for a worker of a cluster."""
    _train_alone(_train_batch(cfgs, **kwargs), kwargs)


class Batch(NamedTuple):
    """Runs that train as one batched computation, after the batches listed in ``after``."""

    runs: list[RunConfig]
    depth: int          # the number of ancestors of each run
    after: tuple[int, ...]  # indices of the batches that train their parents


def _plan(cfgs: list[RunConfig], store: Store, size: int) -> list[Batch]:
    """The batches that train what is missing of ``cfgs`` and of the parents they start from, up
    to ``size`` runs each, parents' batches first; runs interrupted at one step train together. A
    missing run that another missing run of the same training keeps entirely (fewer checkpoints or
    probes: a mask's parent, `config.MaskSpec`) is not trained: the store serves it from the other."""
    todo = [c for c in dict.fromkeys(cfgs) if _stored(store, c) is None]
    for cfg in todo:  # grows by each missing parent found, so grandparents are found too
        parent = cfg.mask.parent if needs_parent(cfg) else None
        if parent is not None and parent not in todo and _stored(store, parent) is None:
            todo.append(parent)
    trained = [c for c in todo if not any(_keeps_all_of(other, c) for other in todo)]
    served_by = {c: next(t for t in trained if _keeps_all_of(t, c)) for c in todo if c not in trained}
    groups: dict[tuple, list[RunConfig]] = {}
    for cfg in todo:
        if cfg in trained:
            groups.setdefault((*_batch_signature(cfg), store.resume_step(cfg) or 0), []).append(cfg)
    batches: list[Batch] = []
    where: dict[RunConfig, int] = {}  # run -> its batch
    for depth, recipe, resumed in sorted(groups):  # parents (lower depth) first
        members = groups[depth, recipe, resumed]
        for i in range(0, len(members), size):
            runs = members[i:i + size]
            parents = {served_by.get(c.mask.parent, c.mask.parent) for c in runs if needs_parent(c)}
            after = {where[p] for p in parents if p in where}
            where.update({c: len(batches) for c in runs})
            batches.append(Batch(runs, depth, tuple(sorted(after))))
    return batches


def _keeps_all_of(big: RunConfig, small: RunConfig) -> bool:
    """Whether ``big`` is the same training as ``small`` and keeps everything ``small`` keeps (of
    two that keep the same, say ``checkpoint_every=None`` and ``=steps``, the first by key)."""
    if big == small or big.training_key != small.training_key:
        return False
    big_steps, small_steps = set(big.checkpoint_steps), set(small.checkpoint_steps)
    big_probes, small_probes = set(big.probes), set(small.probes)
    if (big_steps, big_probes) == (small_steps, small_probes):
        return big.key < small.key
    return small_steps <= big_steps and small_probes <= big_probes


def _label(cfgs: list[RunConfig]) -> str:
    return cfgs[0].label if len(cfgs) == 1 else f"{len(cfgs)} runs: {cfgs[0].label}, ..."


def _batch_signature(cfg: RunConfig) -> tuple[int, str]:
    """Runs with the same signature have the same shapes and recipe and can train as one batch.
    The first item, the number of ancestors, keeps a run out of its parent's batch."""
    depth, parent = 0, cfg.mask
    while parent is not None:
        depth, parent = depth + 1, parent.parent.mask
    # Checkpoints differ per run of a batch (each saves its own); probes do not: every run of a
    # batch logs the same series, so that their resume states stack.
    recipe = {k: v for k, v in to_json(dataclasses.replace(cfg, seed=0, mask=None)).items()
              if k != "checkpoint_every"}
    return depth, json.dumps(recipe, sort_keys=True)


def _train_batch(cfgs: list[RunConfig], store: Store, device: str, progress: bool,
                 resume_every: int, revision: str, loss_gradient: str) -> list[RunConfig]:
    """Train the runs of one batch that are still missing once their locks are held. Returns the
    runs left out because their resume point differs from the batch's (another process
    interrupted them at another step since the plan): the caller trains each alone."""
    dev = resolve_device(device)
    with contextlib.ExitStack() as locks:
        for cfg in sorted(cfgs, key=lambda c: c.key):
            locks.enter_context(store.lock(cfg))
        cfgs = [c for c in cfgs if _stored(store, c, repair=True) is None]  # finished meanwhile?
        writers = {c: store.writer(c) for c in cfgs}
        resumes = {c: w.resume_state() for c, w in writers.items()}
        steps = [None if r is None else r.step for r in resumes.values()]
        common = max(set(steps), key=steps.count) if steps else None  # the most runs' resume step
        leftovers = [c for c in cfgs if (resumes[c] and resumes[c].step) != common]
        cfgs = [c for c in cfgs if c not in leftovers]
        if not cfgs:
            return leftovers
        starts = [starting_point(c, store, dev, progress) for c in cfgs]
        data = _stack_data([d for d, _ in starts])
        first = cfgs[0]
        model = first.model.build(_unbatched(starts[0][0]), n_runs=len(cfgs)).to(dev)
        if first.edge_popup is not None:  # the scores come with the starts' weights
            edge_popup.attach(model, first.edge_popup)
        model.load_weights(_cat([m.weights() for _, m in starts]))
        model.set_masks(_cat([m.masks() for _, m in starts]))
        for r, cfg in enumerate(cfgs):
            writers[cfg].save_masks(_run_slice(model.masks(), r))
        resume = None if common is None else ResumeState.stack([resumes[c] for c in cfgs], dev)
        keeps = [set(c.checkpoint_steps) for c in cfgs]

        def on_checkpoint(step, weights, state: ResumeState):
            for r, cfg in enumerate(cfgs):
                if weights is not None and step in keeps[r]:  # each run exactly its own checkpoints
                    writers[cfg].save_weights(step, _run_slice(weights, r))
                writers[cfg].save_resume_state(state.split(r))

        start = time.perf_counter()
        history = train(model, data, first.optim, first.steps, first.eval_every, sorted(set().union(*keeps)),
                        on_checkpoint=on_checkpoint, resume_every=resume_every, resume=resume,
                        progress=progress, desc=_label(cfgs), probes=first.probes, loss_gradient=loss_gradient)
        wall = time.perf_counter() - start
        hand_written = Step.supports(model, data)
        step = {"gradients": "hand-written" if hand_written else "autograd",
                "loss_gradient": loss_gradient if hand_written else "float64"}
        for r, cfg in enumerate(cfgs):
            writers[cfg].finish(history.run(r), provenance(cfg, dev, wall, resumes[cfg], len(cfgs), revision, step))
    return leftovers


def _cat(dicts: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {n: torch.cat([d[n] for d in dicts]) for n in dicts[0]}


def _run_slice(tensors: dict[str, torch.Tensor], r: int) -> dict[str, torch.Tensor]:
    """Run r's tensors, without the run axis, on the CPU."""
    return {n: t[r].detach().cpu().clone() for n, t in tensors.items()}


def _stack_data(parts: list[Dataset]) -> Dataset:
    """Each run's data along the run axis (one shared copy when all runs use the same split)."""
    first = parts[0]
    tensors = {}
    for name in ("x_train", "y_train", "x_test", "y_test"):
        values = [getattr(d, name) for d in parts]
        shared = all(torch.equal(values[0], v) for v in values[1:])
        tensors[name] = values[0] if shared else torch.cat(values)
    return Dataset(**tensors, n_outputs=first.n_outputs, loss=first.loss)


def _unbatched(data: Dataset) -> Dataset:
    return Dataset(data.x_train[0], data.y_train[0], data.x_test[0], data.y_test[0], data.n_outputs,
                   data.loss)


def _stored(store: Store, cfg: RunConfig, *, repair: bool = False) -> Run | None:
    """The stored run, or None where it is missing or fails its checksums: every run can be derived
    again, so a corrupt one is retrained, never used. With ``repair`` (only while holding the run's
    lock), a run sealed but not yet published by a killed process is published, and a corrupt copy
    in the writable root is removed and reported, so the store ends with one complete copy; a copy
    in a read-only root stays, and the writable root, searched first, gets the new one."""
    try:
        if repair:
            store.recover(cfg)
        return store.load(cfg)
    except CorruptRunError as err:
        if repair:
            print(f"{err}; retraining it", file=sys.stderr)
            if err.path is not None and err.path.name == cfg.key:  # only its own folder, under its lock
                store.discard(err.path)
        return None


def provenance(cfg: RunConfig, device: torch.device, wall: float, resume: ResumeState | None,
               batch: int, revision: str, step: dict) -> dict:
    """Where a result came from. ``wall_seconds`` is the training time of the whole batch of
    ``batch_size`` runs it was trained with; ``step`` says how its gradients were computed (see
    `gtlib.steps`; runs stored before it was recorded were trained with autograd and float64)."""
    return {
        "key": cfg.key, "label": cfg.label, "config": to_json(cfg), "schema": SCHEMA,
        "device": str(device), "threads": torch.get_num_threads(), "batch_size": batch, **step,
        "wall_seconds": round(wall, 2), "resumed_from_step": resume.step if resume else None,
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git": revision, "gtlib": __version__, "python": platform.python_version(),
        "torch": torch.__version__, "numpy": np.__version__,
    }
