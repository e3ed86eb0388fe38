"""The run store: the only module that touches disk.

Layout under a root folder::

    runs/<key>/        a finished run: config.json, meta.json (provenance), history.npz,
                       masks.pt, weights/step_<step>.pt
    partial/<key>/     a run in progress: the same files as far as they go, plus resume.pt
    locks/<key>.lock   held while a process trains that run

A run directory is complete or absent: a run is written under ``partial/`` and renamed into
``runs/`` when it has finished, so a killed process never leaves anything that looks finished, and
the next attempt resumes from ``partial/<key>/resume.pt`` (the last checkpoint). Tensors are
loaded with ``weights_only=True``: a results folder from elsewhere can never run code.

`Store.default()` writes to ``$GTLIB_STORE`` (default: ``.gtlib-store/`` at the repository root) and
also reads the committed paper-scale results in ``results/`` (``$GTLIB_RESULTS``).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .config import RunConfig, to_json
from .metrics import THRESHOLD
from .train import RunHistory

REPO_ROOT = Path(__file__).resolve().parents[1]


def _atomic_write(path: Path, write) -> None:
    """Write via a temporary sibling and rename, so ``path`` is either old or complete."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def _save_tensors(path: Path, obj) -> None:
    _atomic_write(path, lambda tmp: torch.save(obj, tmp))


def _load_tensors(path: Path):
    return torch.load(path, map_location="cpu", weights_only=True)


@dataclass
class Run:
    """A finished run read from the store; weights are loaded lazily."""

    config: RunConfig
    path: Path
    history: RunHistory
    meta: dict = field(repr=False)

    def weights(self, step: int | None = None) -> dict[str, torch.Tensor]:
        """Raw weights saved at ``step`` (default: the last step), name -> tensor."""
        step = self.config.steps if step is None else step
        path = self.path / "weights" / f"step_{step:07d}.pt"
        if not path.exists():
            raise ValueError(f"run {self.config.label} has no checkpoint at step {step}; "
                             f"saved: {self.checkpoint_steps}")
        return _load_tensors(path)

    @property
    def checkpoint_steps(self) -> list[int]:
        return sorted(int(p.stem.split("_")[1]) for p in (self.path / "weights").glob("step_*.pt"))

    def masks(self) -> dict[str, torch.Tensor]:
        return _load_tensors(self.path / "masks.pt")

    def effective_weights(self, step: int | None = None) -> dict[str, torch.Tensor]:
        """θ ⊙ m at ``step``: what the network computes with."""
        masks = self.masks()
        return {n: w * masks[n] if n in masks else w for n, w in self.weights(step).items()}


class RunWriter:
    """Writes one run under ``partial/<key>`` and publishes it to ``runs/<key>`` when done."""

    def __init__(self, store: "Store", cfg: RunConfig):
        self.cfg = cfg
        self.final = store.root / "runs" / cfg.key
        self.dir = store.root / "partial" / cfg.key
        (self.dir / "weights").mkdir(parents=True, exist_ok=True)
        _atomic_write(self.dir / "config.json",
                      lambda tmp: tmp.write_text(json.dumps(to_json(cfg), indent=1, sort_keys=True)))

    def resume_state(self) -> dict | None:
        path = self.dir / "resume.pt"
        return _load_tensors(path) if path.exists() else None

    def save_masks(self, masks: dict[str, torch.Tensor]) -> None:
        _save_tensors(self.dir / "masks.pt", masks)

    def save_weights(self, step: int, weights: dict[str, torch.Tensor]) -> None:
        _save_tensors(self.dir / "weights" / f"step_{step:07d}.pt", weights)

    def save_resume_state(self, state: dict) -> None:
        """The state to resume from; written after that step's weights, if any, so a resume point
        never lacks its checkpoint."""
        _save_tensors(self.dir / "resume.pt", state)

    def finish(self, history: RunHistory, meta: dict) -> None:
        def write_history(tmp: Path) -> None:
            with open(tmp, "wb") as handle:  # a handle: np.savez would append ".npz" to a name
                np.savez_compressed(handle, steps=history.steps, **history.series)

        _atomic_write(self.dir / "history.npz", write_history)
        _atomic_write(self.dir / "meta.json",
                      lambda tmp: tmp.write_text(json.dumps(meta, indent=1, sort_keys=True)))
        (self.dir / "resume.pt").unlink(missing_ok=True)
        if self.final.exists():  # a forced recomputation replaces the old result
            shutil.rmtree(self.final)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.dir, self.final)


class Store:
    """Finished runs by configuration key: one writable root, then read-only roots."""

    def __init__(self, root: str | Path, read_only: tuple[str | Path, ...] = ()):
        self.root = Path(root)
        self.read_only = tuple(Path(p) for p in read_only if Path(p).resolve() != self.root.resolve())

    @classmethod
    def default(cls) -> "Store":
        root = os.environ.get("GTLIB_STORE") or REPO_ROOT / ".gtlib-store"
        results = os.environ.get("GTLIB_RESULTS") or REPO_ROOT / "results"
        return cls(root, (results,))

    def find(self, cfg: RunConfig) -> Path | None:
        for root in (self.root, *self.read_only):
            path = root / "runs" / cfg.key
            if (path / "meta.json").exists():
                return path
        return None

    def load(self, cfg: RunConfig) -> Run | None:
        path = self.find(cfg)
        if path is None:
            return None
        with np.load(path / "history.npz", allow_pickle=False) as npz:
            steps = npz["steps"]
            series = {k: npz[k] for k in npz.files if k != "steps"}
        meta = json.loads((path / "meta.json").read_text())
        threshold = getattr(cfg.task, "accuracy_threshold", THRESHOLD)
        return Run(cfg, path, RunHistory(steps, series, threshold), meta)

    def writer(self, cfg: RunConfig) -> RunWriter:
        return RunWriter(self, cfg)

    @contextlib.contextmanager
    def lock(self, cfg: RunConfig):
        """Hold an exclusive lock on this configuration: a second process asking for the same
        run waits here, then finds it finished."""
        (self.root / "locks").mkdir(parents=True, exist_ok=True)
        with open(self.root / "locks" / f"{cfg.key}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
