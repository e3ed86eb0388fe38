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
import math
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import Executor
from typing import Iterable, NamedTuple

import numpy as np
import torch
from distributed import Client

from . import __version__, cluster, edge_popup, probes, starting_points
from .config import RunConfig, to_json
from .paths import REPO_ROOT
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


def run(cfg: RunConfig, store: Store | None = None, *, device: str = "auto", force: bool = False,
        progress: bool = True, resume_every: int = 1000, loss_gradient: str | None = None) -> Run:
    """The finished run for ``cfg``: loaded from the store, or trained and stored.

    ``force=True`` retrains this run (not its parents). An interrupted run resumes from its last
    checkpoint, or from its last resume point (every ``resume_every`` steps), whichever is later.
    The device is chosen automatically (CUDA, then MPS, then CPU) and recorded only in the run's
    provenance.
    """
    return run_many([cfg], store, device=device, force=force, progress=progress,
                    resume_every=resume_every, loss_gradient=loss_gradient)[0]


def run_many(cfgs: Iterable[RunConfig], store: Store | None = None, *, device: str = "auto",
             force: bool = False, progress: bool = True, batch: int = 16,
             resume_every: int = 1000, executor: Executor | Client | None = None,
             loss_gradient: str | None = None) -> list[Run]:
    """Every run of a sweep, trained where missing.

    Runs that differ only in seed or mask (seeds, sparsities, pruners, ticket steps) train together,
    up to ``batch`` at a time, as one batched computation: their weights share a leading run axis
    and each run computes what it would alone (runs never mix: the loss is a sum of per-run losses
    and AdamW is elementwise). The rounding can differ: BLAS may pick other kernels for other batch
    shapes (measured on a GPU; see the README), and a long grokking run amplifies it. A missing
    parent of a derived run trains first, in a batch of its own.

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
    batches = _plan(cfgs, store, force, max(batch, 1))
    if batches:
        check_committable(store, sum(len(b.runs) for b in batches))
    # The revision of this process's code, recorded by every batch wherever it trains (a Dask worker
    # runs the same code, `gtlib.cluster` checks that, but may lack the checkout's git).
    kwargs = dict(store=store, device=device, progress=progress, resume_every=resume_every,
                  revision=git_revision() if batches else "unknown", loss_gradient=loss_gradient)
    if batches and executor is None:
        executor = cluster.client()
    if executor is None:
        for b in batches:
            _train_batch(b.runs, force=b.force, **kwargs)
    elif isinstance(executor, Client):
        shared = Store(store.root.resolve(), tuple(p.resolve() for p in store.read_only))
        tasks = [cluster.Task(_train_batch, (b.runs,), {**kwargs, "store": shared, "force": b.force,
                                                        "progress": False}, b.after, _label(b.runs))
                 for b in batches]
        cluster.run_graph(executor, tasks, shared.root, progress=progress)
    else:
        for depth in sorted({b.depth for b in batches}):  # parents' batches finish first
            for future in [executor.submit(_train_batch, b.runs, force=b.force, **kwargs)
                           for b in batches if b.depth == depth]:
                future.result()
    return [store.load(c) for c in cfgs]


class Batch(NamedTuple):
    """Runs that train as one batched computation, after the batches listed in ``after``."""

    runs: list[RunConfig]
    force: bool         # retrain them even if stored (asked for with force; never their parents)
    depth: int          # the number of ancestors of each run
    after: tuple[int, ...]  # indices of the batches that train their parents


def _plan(cfgs: list[RunConfig], store: Store, force: bool, size: int) -> list[Batch]:
    """The batches that train what is missing of ``cfgs`` and of the parents they start from, up
    to ``size`` runs each, parents' batches first."""
    todo = {c: force for c in dict.fromkeys(cfgs) if force or not _satisfies(_stored(store, c), c)}
    queue = list(todo)
    for cfg in queue:  # grows by each missing parent found, so grandparents are found too
        parent = cfg.mask.parent if needs_parent(cfg) else None
        if parent is not None and parent not in todo and not _satisfies(_stored(store, parent), parent):
            todo[parent] = False
            queue.append(parent)
    todo = _one_per_key(todo)
    groups: dict[tuple[int, str, bool], list[RunConfig]] = {}
    for cfg, forced in todo.items():
        groups.setdefault((*_batch_signature(cfg), forced), []).append(cfg)
    batches: list[Batch] = []
    where: dict[str, int] = {}  # run key -> its batch
    for depth, recipe, forced in sorted(groups):  # parents (lower depth) first
        members = groups[depth, recipe, forced]
        for i in range(0, len(members), size):
            runs = members[i:i + size]
            after = {where[c.mask.parent.key] for c in runs
                     if needs_parent(c) and c.mask.parent.key in where}
            where.update({c.key: len(batches) for c in runs})
            batches.append(Batch(runs, forced, depth, tuple(sorted(after))))
    return batches


def _one_per_key(todo: dict[RunConfig, bool]) -> dict[RunConfig, bool]:
    """One configuration per stored run: requests that differ only in what they keep (checkpoints,
    probes) share a key, and a batch must not train one key twice; they are merged into one request
    that keeps everything each of them asks for (`_keeping_all`)."""
    by_key: dict[str, list[RunConfig]] = {}
    for cfg in todo:
        by_key.setdefault(cfg.key, []).append(cfg)
    return {_keeping_all(same): any(todo[c] for c in same) for same in by_key.values()}


def _keeping_all(requests: list[RunConfig]) -> RunConfig:
    """One request for the run that ``requests`` all name (one key), keeping every checkpoint and
    probe that any of them asks for. Checkpoints are kept every ``checkpoint_every`` steps, so the
    merged request keeps them every gcd of the intervals: requests every 250 and every 400 steps give
    one every 50. Where one request already keeps everything, it is that request."""
    first = requests[0]
    intervals = [c.checkpoint_every for c in requests if c.checkpoint_every]
    keeps_none = all(c.checkpoint_every == 0 for c in requests)  # 0: no weights at all
    every = math.gcd(*intervals) if intervals else 0 if keeps_none else None
    logged = set().union(*(c.probes for c in requests))
    if every == first.checkpoint_every and logged == set(first.probes):
        return first
    return dataclasses.replace(first, checkpoint_every=every, probes=tuple(sorted(logged)))


def _label(cfgs: list[RunConfig]) -> str:
    return cfgs[0].label if len(cfgs) == 1 else f"{len(cfgs)} runs: {cfgs[0].label}, ..."


def _batch_signature(cfg: RunConfig) -> tuple[int, str]:
    """Runs with the same signature have the same shapes and recipe and can train as one batch.
    The first item, the number of ancestors, keeps a run out of its parent's batch."""
    depth, parent = 0, cfg.mask
    while parent is not None:
        depth, parent = depth + 1, parent.parent.mask
    recipe = to_json(dataclasses.replace(cfg, seed=0, mask=None), identity=True)
    return depth, json.dumps(recipe, sort_keys=True)


def _train_batch(cfgs: list[RunConfig], store: Store, device: str, force: bool, progress: bool,
                 resume_every: int, revision: str, loss_gradient: str) -> None:
    dev = resolve_device(device)
    with contextlib.ExitStack() as locks:
        for cfg in sorted(cfgs, key=lambda c: c.key):
            locks.enter_context(store.lock(cfg))
        found = {c: _stored(store, c, repair=True) for c in cfgs}  # finished meanwhile?
        # A run stored without the checkpoints or probes asked for is retrained with exactly those
        # asked for: analyses read a run's checkpoints, so a copy must not keep others (the
        # replaced copy is retired, not deleted: `gtlib.store._retire`).
        cfgs = [c for c in cfgs if force or not _satisfies(found[c], c)]
        if not cfgs:
            return
        starts = [starting_point(c, store, dev, progress) for c in cfgs]
        writers = [store.writer(c) for c in cfgs]
        resumes = [w.resume_state() for w in writers]
        if len({None if r is None else r["step"] for r in resumes}) > 1:
            locks.close()  # each run takes its own lock again below (a lock is not re-entrant)
            for cfg in cfgs:  # runs interrupted at different steps cannot share a batch
                _train_batch([cfg], store, device, force, progress, resume_every, revision, loss_gradient)
            return
        data = _stack_data([d for d, _ in starts])
        first = cfgs[0]
        model = first.model.build(_unbatched(starts[0][0]), n_runs=len(cfgs)).to(dev)
        if first.edge_popup is not None:  # the scores come with the starts' weights
            edge_popup.attach(model, first.edge_popup)
        model.load_weights(_cat([m.weights() for _, m in starts]))
        model.set_masks(_cat([m.masks() for _, m in starts]))
        for r, writer in enumerate(writers):
            writer.save_masks(_run_slice(model.masks(), r))
        resume = _stack_states(resumes, dev) if resumes[0] is not None else None

        keeps = [set(c.checkpoint_steps) for c in cfgs]

        def on_checkpoint(step, weights, state):
            for r, writer in enumerate(writers):
                if weights is not None and step in keeps[r]:  # each run exactly its own checkpoints
                    writer.save_weights(step, _run_slice(weights, r))
                writer.save_resume_state(_state_slice(state, r))

        start = time.perf_counter()
        label = _label(cfgs)
        logged = tuple(sorted({name for c in cfgs for name in c.probes}))  # the batch logs them all
        history = train(model, data, first.optim, first.steps, first.eval_every, sorted(set().union(*keeps)),
                        on_checkpoint=on_checkpoint, resume_every=resume_every, resume=resume,
                        progress=progress, desc=label, probes=logged, loss_gradient=loss_gradient)
        wall = time.perf_counter() - start
        hand_written = Step.supports(model, data)
        step = {"gradients": "hand-written" if hand_written else "autograd",
                "loss_gradient": loss_gradient if hand_written else "float64"}
        for r, (cfg, writer) in enumerate(zip(cfgs, writers)):
            writer.finish(history.run(r), provenance(cfg, dev, wall, resumes[r], len(cfgs), revision, step))


def _cat(dicts: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {n: torch.cat([d[n] for d in dicts]) for n in dicts[0]}


def _run_slice(tensors: dict[str, torch.Tensor], r: int) -> dict[str, torch.Tensor]:
    """Run r's tensors, without the run axis, on the CPU."""
    return {n: t[r].detach().cpu().clone() for n, t in tensors.items()}


def _state_slice(state: dict, r: int) -> dict:
    """Run r's resumable state, shaped as if it had trained alone (run axis of 1). The slices are
    copied: saving a view would write the whole batch's storage into every run's file."""
    opt = state["optimizer"]
    return {"step": state["step"],
            "weights": {n: w[r:r + 1].detach().cpu().clone() for n, w in state["weights"].items()},
            "optimizer": {"param_groups": opt["param_groups"],
                          "state": {i: {k: v[r:r + 1].cpu().clone() if v.dim() else v
                                        for k, v in s.items()}
                                    for i, s in opt["state"].items()}},
            "history": {"steps": state["history"]["steps"],
                        "series": {k: [row[r:r + 1] for row in rows]
                                   for k, rows in state["history"]["series"].items()}}}


def _stack_states(states: list[dict], device) -> dict:
    """The inverse of `_state_slice` over runs resumed from the same step."""
    first = states[0]
    opt = first["optimizer"]
    return {"step": first["step"],
            "weights": {n: torch.cat([s["weights"][n] for s in states]).to(device)
                        for n in first["weights"]},
            "optimizer": {"param_groups": opt["param_groups"],
                          "state": {i: {k: torch.cat([s["optimizer"]["state"][i][k] for s in states])
                                        if v.dim() else v for k, v in st.items()}
                                    for i, st in opt["state"].items()}},
            "history": {"steps": first["history"]["steps"],
                        "series": {k: [sum((s["history"]["series"][k][t] for s in states), [])
                                       for t in range(len(rows))]
                                   for k, rows in first["history"]["series"].items()}}}


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
            store.discard(err.path)
        return None


def _satisfies(found: Run | None, cfg: RunConfig) -> bool:
    """A stored run serves a request if it holds every checkpoint the request asks to keep and
    every probe it asks to log."""
    return (found is not None and set(cfg.checkpoint_steps) <= set(found.checkpoint_steps)
            and probes.series_of(cfg.probes) <= set(found.history.series))


def provenance(cfg: RunConfig, device: torch.device, wall: float, resume: dict | None,
               batch: int, revision: str, step: dict) -> dict:
    """Where a result came from. ``wall_seconds`` is the training time of the whole batch of
    ``batch_size`` runs it was trained with; ``step`` says how its gradients were computed (see
    `gtlib.steps`; runs stored before it was recorded were trained with autograd and float64)."""
    return {
        "key": cfg.key, "label": cfg.label, "config": to_json(cfg),
        "device": str(device), "threads": torch.get_num_threads(), "batch_size": batch, **step,
        "wall_seconds": round(wall, 2), "resumed_from_step": resume["step"] if resume else None,
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git": revision, "gtlib": __version__, "python": platform.python_version(),
        "torch": torch.__version__, "numpy": np.__version__,
    }
