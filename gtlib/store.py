"""The run store: the only module that touches disk.

Layout under a root folder::

    runs/<key>/        a finished run: config.json, meta.json (provenance), history.npz,
                       masks.pt, weights/step_<step>.pt, and checksums.json (the sha256 of each)
    partial/<key>/     a run in progress: the same files as far as they go, plus resume.pt
    locks/<key>.lock   held while a process trains that run

A run directory is complete or absent: a run is written under ``partial/``, sealed (checksums.json,
written last) and renamed into ``runs/`` when it has finished, so a killed process never leaves
anything that looks finished, and the next attempt resumes from ``partial/<key>/resume.pt`` (the last
resume point), or publishes a sealed folder it finds there. Only a folder with checksums.json counts
as finished, and every read checks the files it reads against it: a corrupt or truncated file raises
`CorruptRunError`, never a wrong result.

A sealed folder never changes: its key names everything it holds (`gtlib.config`), so no later
request can ask it for more, and nothing rewrites or replaces it. A request that keeps more than a
stored run (more checkpoints or probes) is another run, trained into its own folder. A request that
keeps less of a stored training is served by that run's folder, read as the request keeps it
(`Store.load`): the same history and weights, since what a run keeps never changes what it computes.
Tensors are loaded with ``weights_only=True``: a results folder from elsewhere can never run code.

`Store.default()` writes to ``$GTLIB_STORE`` (default: ``.gtlib-store/`` at the repository root) and
also reads the committed paper-scale results in ``results/`` (``$GTLIB_RESULTS``).

With ``$GTLIB_READ_LOG`` set to a file, every run file read for use (a run's history when it is
loaded, each tensor file a `Run` reads; not the reads that check checksums) is appended to it as
``<key>/<file>``: `benchmarks/store_reads.py` measures with it what each book page reads.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from filelock import FileLock

from .config import SCHEMA, RunConfig, from_json, to_json, training_key
from .history import SERIES, RunHistory
from .metrics import THRESHOLD
from .paths import REPO_ROOT
from .probes import series_of
from .resume import ResumeState

CHECKSUMS = "checksums.json"
RUN_FILES = ("config.json", "meta.json", "history.npz", "masks.pt")  # and weights/step_*.pt
_WEIGHTS = re.compile(r"weights/step_\d{7}\.pt")


class CorruptRunError(ValueError):
    """A stored run whose files are missing, differ from their checksums or cannot be read. Every run
    can be derived again from its configuration, so `gtlib.runs` retrains it instead of using it."""

    def __init__(self, message: str, path: Path | None = None, file: str | None = None):
        super().__init__(message)
        self.path, self.file = path, file  # the run folder, and the file in it (as listed)

    def __reduce__(self):  # keeps path and file when a worker process sends the error back
        return type(self), (str(self), self.path, self.file)


def _corrupt(run_dir: Path, name: str, problem: str, label: str | None) -> CorruptRunError:
    """The one-line error: ``run <label> (<key>): <file> <problem>``."""
    return CorruptRunError(f"run {_describe(run_dir, label)}: {name} {problem}", run_dir, name)


def _describe(run_dir: Path, label: str | None) -> str:
    """``label (key)``; without a label (the command line's check), the one its meta.json records."""
    if label is None:
        with contextlib.suppress(Exception):
            label = json.loads((run_dir / "meta.json").read_text())["label"]
    if label is None:
        return run_dir.name
    return f"{' '.join(str(label).split())} ({run_dir.name})"  # one line, whatever meta.json holds


def _atomic_write(path: Path, write) -> None:
    """Write via a temporary sibling and rename, so ``path`` is either old or complete."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def _save_tensors(path: Path, obj) -> None:
    _atomic_write(path, lambda tmp: torch.save(obj, tmp))


def _load_tensors(path: Path):
    return torch.load(path, map_location="cpu", weights_only=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _run_files(run_dir: Path) -> list[str]:
    """The files of a finished run, as checksums.json names them (``/``-separated)."""
    weights = sorted(f"weights/{p.name}" for p in (run_dir / "weights").glob("step_*.pt"))
    return [*RUN_FILES, *weights]


def _remove_temporaries(run_dir: Path) -> None:
    """Half-written files a killed process left behind (see `_atomic_write`)."""
    for path in run_dir.rglob(".*.tmp*"):
        path.unlink()


def seal(run_dir: str | Path) -> None:
    """Write checksums.json for a finished run folder that lacks one: from then on the folder counts
    as finished and its files are checked on every read. `RunWriter.finish` seals every new run; runs
    written before checksums existed were sealed once by hand (only files one trusts)."""
    run_dir = Path(run_dir)
    if (run_dir / CHECKSUMS).exists():
        raise ValueError(f"{run_dir} is already sealed; delete its {CHECKSUMS} to seal it again")
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        raise ValueError(f"{run_dir} is not a finished run: it lacks {', '.join(missing)}")
    _remove_temporaries(run_dir)
    sums = {name: _sha256(run_dir / name) for name in _run_files(run_dir)}
    _atomic_write(run_dir / CHECKSUMS,
                  lambda tmp: tmp.write_text(json.dumps(sums, indent=1, sort_keys=True)))


def is_sealed(run_dir: str | Path) -> bool:
    """Whether a run folder counts as finished (its checksums are written last)."""
    return (Path(run_dir) / CHECKSUMS).is_file()


def verify(run_dir: str | Path, label: str | None = None) -> dict[str, str]:
    """Check every file of a sealed run against its checksum; returns the checksums (name -> sha256).
    Raises `CorruptRunError` for the first file that is missing or differs."""
    run_dir = Path(run_dir)
    sums = _read_checksums(run_dir, label)
    for name, digest in sums.items():
        _read_checked(run_dir, name, digest, label)
    return sums


def check(run_dir: str | Path) -> None:
    """Everything `Store.load` reads from a sealed run folder, checked and parsed, without knowing
    its configuration (for ``python -m gtlib verify``). Raises `CorruptRunError`."""
    run_dir = Path(run_dir)
    verify(run_dir)
    for name in ("config.json", "meta.json"):
        _read_json(run_dir, name, None)
    _read_history(run_dir, None)


def _read_checksums(run_dir: Path, label: str | None) -> dict[str, str]:
    """checksums.json, refused unless it lists every run file and only run files (no other paths)."""
    with _reading(run_dir, CHECKSUMS, label):
        sums = json.loads((run_dir / CHECKSUMS).read_text())
    valid = (isinstance(sums, dict) and set(RUN_FILES) <= set(sums)
             and all(isinstance(d, str) and (n in RUN_FILES or _WEIGHTS.fullmatch(n))
                     for n, d in sums.items()))
    if not valid:
        raise _corrupt(run_dir, CHECKSUMS, "is not a valid list of the run's files", label)
    return sums


def _log_read(run_dir: Path, name: str) -> None:
    """One line in ``$GTLIB_READ_LOG`` (if set) for each run file read."""
    log = os.environ.get("GTLIB_READ_LOG")
    if log:
        with open(log, "a") as handle:
            handle.write(f"{run_dir.name}/{name}\n")


def _read_checked(run_dir: Path, name: str, digest: str, label: str | None) -> bytes:
    """The bytes of one run file, checked against its checksum. They are read once and then parsed
    from memory, so the bytes checked are the bytes used."""
    path = run_dir / name
    if not path.is_file():
        raise _corrupt(run_dir, name, "is missing", label)
    with _reading(run_dir, name, label):
        data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise _corrupt(run_dir, name, "fails its checksum (corrupt or truncated)", label)
    return data


@contextlib.contextmanager
def _reading(run_dir: Path, name: str, label: str | None):
    """Any failure to read or parse a file becomes one `CorruptRunError` line, never a traceback
    from numpy, torch or json."""
    try:
        yield
    except CorruptRunError:
        raise
    except Exception as err:
        first = (str(err).strip().splitlines() or [""])[0].split(". ")[0].rstrip(".")  # one line
        raise _corrupt(run_dir, name, f"cannot be read ({type(err).__name__}: {first})", label) from err


def _read_json(run_dir: Path, name: str, label: str | None):
    with _reading(run_dir, name, label):
        return json.loads((run_dir / name).read_text())


def _read_history(run_dir: Path, label: str | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    _log_read(run_dir, "history.npz")
    with _reading(run_dir, "history.npz", label):
        with np.load(run_dir / "history.npz", allow_pickle=False) as npz:
            return npz["steps"], {k: npz[k] for k in npz.files if k != "steps"}


def _unseal_and_remove(run_dir: Path) -> None:
    """Remove a run folder, its seal first: a process killed halfway leaves an unfinished folder,
    never a half-removed one that looks finished."""
    (run_dir / CHECKSUMS).unlink(missing_ok=True)
    shutil.rmtree(run_dir)


def _publish(partial: Path, final: Path) -> None:
    """Move a sealed run from ``partial/`` to ``runs/``. Never over a published folder: a run is
    trained under its lock only when it is not stored, so a copy already there is the same run,
    and it stays."""
    (partial / "resume.pt").unlink(missing_ok=True)
    final.parent.mkdir(parents=True, exist_ok=True)
    if is_sealed(final):
        _unseal_and_remove(partial)
        return
    os.replace(partial, final)


@dataclass
class Run:
    """A finished run read from the store; weights are loaded lazily, each file checked against its
    checksum when it is read."""

    config: RunConfig
    path: Path
    history: RunHistory
    meta: dict = field(repr=False)
    checksums: dict[str, str] = field(repr=False, default_factory=dict)

    def weights(self, step: int | None = None) -> dict[str, torch.Tensor]:
        """Raw weights saved at ``step`` (default: the last step), name -> tensor."""
        step = self.config.steps if step is None else step
        name = f"weights/step_{step:07d}.pt"
        if name not in self.checksums:
            raise ValueError(f"run {self.config.label} has no checkpoint at step {step}; "
                             f"saved: {self.checkpoint_steps}")
        return self._read_tensors(name)

    @property
    def checkpoint_steps(self) -> list[int]:
        """The steps whose weights the run holds (its configuration's `checkpoint_steps`)."""
        return _steps_held(self.checksums)

    def masks(self) -> dict[str, torch.Tensor]:
        """The fixed 0/1 masks, as float32 tensors (stored as booleans; the runs stored before
        that hold float32 files, which read the same)."""
        return {n: m.float() for n, m in self._read_tensors("masks.pt").items()}

    def _read_tensors(self, name: str) -> dict[str, torch.Tensor]:
        data = _read_checked(self.path, name, self.checksums[name], self.config.label)
        _log_read(self.path, name)
        with _reading(self.path, name, self.config.label):
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _training_key_of(run_dir: Path) -> str | None:
    """The training key of a sealed folder written at the current `SCHEMA` (None otherwise: a
    folder of an older schema serves only its own key, until `gtlib.migrate` re-keys it)."""
    try:
        if json.loads((run_dir / "meta.json").read_text()).get("schema") != SCHEMA:
            return None
        return training_key(json.loads((run_dir / "config.json").read_text()))
    except (OSError, ValueError):
        return None


def _steps_held(checksums: dict[str, str]) -> list[int]:
    return sorted(int(n[len("weights/step_"):-len(".pt")]) for n in checksums if n.startswith("weights/"))


class RunWriter:
    """Writes one run under ``partial/<key>`` and publishes it to ``runs/<key>`` when done."""

    def __init__(self, store: "Store", cfg: RunConfig):
        self.cfg = cfg
        self.final = store.root / "runs" / cfg.key
        self.dir = store.root / "partial" / cfg.key
        (self.dir / "weights").mkdir(parents=True, exist_ok=True)
        _atomic_write(self.dir / "config.json",
                      lambda tmp: tmp.write_text(json.dumps(to_json(cfg), indent=1, sort_keys=True)))

    def resume_state(self) -> ResumeState | None:
        path = self.dir / "resume.pt"
        return ResumeState.from_dict(_load_tensors(path)) if path.exists() else None

    def save_masks(self, masks: dict[str, torch.Tensor]) -> None:
        """Masks are 0/1: stored as booleans, exactly, in a quarter of float32's bytes."""
        if any(not torch.equal(m, m.bool().to(m.dtype)) for m in masks.values()):
            raise ValueError("a mask holds values other than 0 and 1")
        _save_tensors(self.dir / "masks.pt", {n: m.bool() for n, m in masks.items()})

    def save_weights(self, step: int, weights: dict[str, torch.Tensor]) -> None:
        _save_tensors(self.dir / "weights" / f"step_{step:07d}.pt", weights)

    def save_resume_state(self, state: ResumeState) -> None:
        """The state to resume from; written after that step's weights, if any, so a resume point
        never lacks its checkpoint."""
        _save_tensors(self.dir / "resume.pt", state.as_dict())

    def finish(self, history: RunHistory, meta: dict) -> None:
        """Write the history and provenance, seal the folder, publish it. A process killed at any
        moment loses at most the steps since its last resume point: until the seal is written the
        folder is unfinished and resume.pt is still there; after that, the next attempt publishes
        the sealed folder (`Store.recover`)."""
        def write_history(tmp: Path) -> None:
            with open(tmp, "wb") as handle:  # a handle: np.savez would append ".npz" to a name
                np.savez_compressed(handle, steps=history.steps, **history.series)

        _atomic_write(self.dir / "history.npz", write_history)
        _atomic_write(self.dir / "meta.json",
                      lambda tmp: tmp.write_text(json.dumps(meta, indent=1, sort_keys=True)))
        seal(self.dir)
        _publish(self.dir, self.final)


def _listing_row(run_dir: Path) -> dict:
    row = {"key": run_dir.name, "root": str(run_dir.parent.parent)}
    try:
        cfg = from_json(_read_json(run_dir, "config.json", None))
        meta = _read_json(run_dir, "meta.json", cfg.label)
        steps, series = _read_history(run_dir, cfg.label)
    except (CorruptRunError, ValueError, TypeError) as err:
        return {**row, "problem": str(err).splitlines()[0]}
    history = RunHistory(steps, series, getattr(cfg.task, "accuracy_threshold", THRESHOLD))
    mask = cfg.mask
    return {**row, "label": cfg.label, "task": cfg.task.name, "op": getattr(cfg.task, "op", ""),
            "model": cfg.model.name, "seed": cfg.seed, "steps": cfg.steps, "lr": cfg.optim.lr,
            "weight_decay": cfg.optim.weight_decay,
            "parent": mask.parent.key if mask else "", "mask_step": mask.step if mask else None,
            "pruner": mask.pruner if mask else "", "sparsity": mask.sparsity if mask else 0.0,
            "start": mask.use if mask else "θ0", "t_mem": history.t_mem, "t_gen": history.t_gen,
            "wall_seconds": meta.get("wall_seconds"), "batch_size": meta.get("batch_size"),
            "finished": meta.get("finished"), "problem": ""}


class Store:
    """Finished runs by configuration key: one writable root, then read-only roots."""

    def __init__(self, root: str | Path, read_only: tuple[str | Path, ...] = ()):
        self.root = Path(root)
        self.read_only = tuple(Path(p) for p in read_only if Path(p).resolve() != self.root.resolve())
        self._training_keys: dict[Path, str | None] = {}  # `_training_key_of` each folder

    @classmethod
    def default(cls) -> "Store":
        root = os.environ.get("GTLIB_STORE") or REPO_ROOT / ".gtlib-store"
        results = os.environ.get("GTLIB_RESULTS") or REPO_ROOT / "results"
        return cls(root, (results,))

    def find(self, cfg: RunConfig) -> Path | None:
        """The sealed folder that serves ``cfg``: its own (``runs/<key>``, the writable root
        first), or else that of a run of the same training (`RunConfig.training_key`) that keeps
        every checkpoint and probe ``cfg`` keeps."""
        for root in (self.root, *self.read_only):
            path = root / "runs" / cfg.key
            if is_sealed(path):
                return path
        wanted = {f"weights/step_{s:07d}.pt" for s in cfg.checkpoint_steps}
        for path in self.same_training(cfg):
            with contextlib.suppress(OSError, ValueError):
                if wanted <= set(json.loads((path / CHECKSUMS).read_text())) and \
                        set(cfg.probes) <= set(json.loads((path / "config.json").read_text()).get("probes", [])):
                    return path
        return None

    def load(self, cfg: RunConfig) -> Run | None:
        """The stored run serving ``cfg`` (`find`), every file checked against its checksum first
        (a few ms per run), read as ``cfg`` keeps it: only its checkpoints and its probes' series.
        Raises `CorruptRunError` if a file is missing, differs or cannot be read."""
        path = self.find(cfg)
        if path is None:
            return None
        sums = verify(path, cfg.label)
        steps, series = _read_history(path, cfg.label)
        meta = _read_json(path, "meta.json", cfg.label)
        if path.name != cfg.key:  # another run of the same training, which keeps more
            kept = {f"weights/step_{s:07d}.pt" for s in cfg.checkpoint_steps}
            sums = {n: d for n, d in sums.items() if not n.startswith("weights/") or n in kept}
            logged = set(SERIES) | series_of(cfg.probes)
            series = {k: v for k, v in series.items() if k in logged}
        threshold = getattr(cfg.task, "accuracy_threshold", THRESHOLD)
        return Run(cfg, path, RunHistory(steps, series, threshold), meta, sums)

    def recover(self, cfg: RunConfig) -> None:
        """Publish a run whose process was killed after sealing it but before publishing it. A
        sealed folder that fails its checksums is removed, and `CorruptRunError` raised. Call it
        while holding the run's lock."""
        partial = self.root / "partial" / cfg.key
        if not is_sealed(partial):
            return
        try:
            verify(partial, cfg.label)
        except CorruptRunError:
            _unseal_and_remove(partial)
            raise
        _publish(partial, self.root / "runs" / cfg.key)

    def discard(self, run_dir: Path) -> None:
        """Remove a corrupt run folder if it lies in the writable root (so that the store ends with
        one complete copy once it is retrained); read-only roots are never touched."""
        run_dir = Path(run_dir)
        if run_dir.parent.parent.resolve() == self.root.resolve() and run_dir.exists():
            _unseal_and_remove(run_dir)

    def writer(self, cfg: RunConfig) -> RunWriter:
        return RunWriter(self, cfg)

    @contextlib.contextmanager
    def probe_file(self):
        """A uniquely named empty file in the writable root while the block runs (for
        `gtlib.cluster` to check that its workers see the store)."""
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / f".probe-{uuid.uuid4().hex}"
        probe.write_text("")
        try:
            yield probe
        finally:
            probe.unlink()

    def resume_step(self, cfg: RunConfig) -> int | None:
        """The step an interrupted run of ``cfg`` resumes from (None: it starts at 0)."""
        path = self.root / "partial" / cfg.key / "resume.pt"
        if not path.is_file():
            return None
        try:
            return int(_load_tensors(path)["step"])
        except Exception:  # a damaged resume point: the run starts again (`RunWriter` overwrites it)
            return None

    def same_training(self, cfg: RunConfig) -> list[Path]:
        """Sealed folders of other runs with ``cfg``'s training key, the writable root first."""
        wanted, found = cfg.training_key, []
        for root in (self.root, *self.read_only):
            folder = root / "runs"
            for run_dir in sorted(folder.iterdir()) if folder.is_dir() else []:
                if run_dir.name == cfg.key or not is_sealed(run_dir):
                    continue
                if run_dir not in self._training_keys:  # read once: a sealed folder never changes
                    self._training_keys[run_dir] = _training_key_of(run_dir)
                if self._training_keys.get(run_dir) == wanted:
                    found.append(run_dir)
        return found

    def listing(self) -> pd.DataFrame:
        """Every finished run the store holds, one row each (the writable root's copy first): its
        key, its main settings, where its mask comes from, its times and its provenance. Reads
        configurations, provenance and histories, not weights; a run whose files cannot be read is
        listed with its problem."""
        rows, seen = [], set()
        for root in (self.root, *self.read_only):
            folder = root / "runs"
            for run_dir in sorted(folder.iterdir()) if folder.is_dir() else []:
                if run_dir.name in seen or not is_sealed(run_dir):
                    continue
                seen.add(run_dir.name)
                rows.append(_listing_row(run_dir))
        columns = ["key", "root", "label", "task", "op", "model", "seed", "steps", "lr", "weight_decay",
                   "parent", "mask_step", "pruner", "sparsity", "start", "t_mem", "t_gen",
                   "wall_seconds", "batch_size", "finished", "problem"]
        return pd.DataFrame(rows, columns=columns).astype(
            {"seed": "Int64", "steps": "Int64", "mask_step": "Int64", "t_mem": "Int64", "t_gen": "Int64",
             "batch_size": "Int64"})

    def lock(self, cfg: RunConfig) -> FileLock:
        """An exclusive lock on this configuration, to use as a context manager: a second process
        (or thread) asking for the same run waits here, then finds it finished. filelock, not
        fcntl: it works on Windows too."""
        (self.root / "locks").mkdir(parents=True, exist_ok=True)
        return FileLock(self.root / "locks" / f"{cfg.key}.lock")
