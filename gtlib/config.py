"""Run configurations: a run's configuration is its whole identity.

`RunConfig` is frozen and validated on creation. Its `key` is a hash of the canonical JSON of its
*non-default* fields plus `SCHEMA`, so adding a field with a default keeps every stored result valid;
bump `SCHEMA` only when the meaning of training changes. The device, and which checkpoints are kept
(`STORAGE_FIELDS`), are not part of the identity.

A derived run (a ticket, a pruned or rescaled network) carries a `MaskSpec` that names its parent
run's whole configuration, the checkpoint step the mask is scored at, the pruner and the sparsity, so
the store can build the chain on demand.

Vocabulary: ``sparsity`` is always the fraction of weights **removed** (the paper's pruning rate);
``density = 1 - sparsity``. Training is full batch, so a *step* is the paper's *epoch*.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .edge_popup import EdgePopupConfig
from .models import MODELS, MLPConfig
from .probes import PROBES
from .pruning import PRUNERS
from .tasks import TASKS, ModularArithmetic

SCHEMA = 1

# Fields that say what to *keep* of a run, not what the run computes: they are left out of its key.
# Which weights get saved does not change training (a resumed run repeats the uninterrupted one), so
# a stored run with checkpoints every 2k steps serves a request for the last step only; a request
# for checkpoints that a stored run lacks retrains it (see `gtlib.runs.run`).
# The same holds for ``probes``, extra series logged during training: a stored run that lacks one is
# retrained.
STORAGE_FIELDS = frozenset({"checkpoint_every", "probes"})


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with decoupled weight decay (paper §3.1: lr 1e-3, α = 1, β = (0.9, 0.98))."""

    lr: float = 1e-3
    weight_decay: float = 1.0
    betas: tuple[float, float] = (0.9, 0.98)

    def __post_init__(self):
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")


@dataclass(frozen=True)
class RunConfig:
    """One training run.

    ``checkpoint_every``: weights are saved at step 0 (θ0), every ``checkpoint_every`` steps and at
    the last step; ``None`` keeps only θ0 and the last step; ``0`` keeps no weights (a derived run
    whose weights no analysis reads: its θ0 is its parent's start, rebuilt exactly by
    `gtlib.starting_points`, and its history and mask are kept). ``eval_every``: train and test metrics
    (and the ``probes``, `gtlib.probes`) are logged at step 0, every ``eval_every`` steps and at the
    last step.
    """

    task: Any = field(default_factory=ModularArithmetic)
    model: Any = field(default_factory=MLPConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    steps: int = 30_000
    seed: int = 0
    eval_every: int = 10
    checkpoint_every: int | None = None
    mask: "MaskSpec | None" = None
    probes: tuple[str, ...] = ()
    edge_popup: EdgePopupConfig | None = None

    def __post_init__(self):
        for what, registry in (("task", TASKS), ("model", MODELS)):
            value = getattr(self, what)
            if not any(isinstance(value, registry.get(n)) for n in registry.names()):
                raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(registry.names())}")
        for name in ("steps", "eval_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.checkpoint_every is not None and (
                not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 0):
            raise ValueError(f"checkpoint_every must be a positive integer, 0 (no weights) or None "
                             f"(θ0 and the last step), got {self.checkpoint_every!r}")
        object.__setattr__(self, "probes", tuple(self.probes))
        for name in self.probes:
            PROBES.get(name).check(name, self.model)
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if self.mask is not None:
            self.mask.check_child(self)

    @property
    def checkpoint_steps(self) -> list[int]:
        """Steps whose weights are saved: 0, every ``checkpoint_every``, and the last (none for 0)."""
        if self.checkpoint_every == 0:
            return []
        every = self.checkpoint_every or self.steps
        return sorted(set(range(0, self.steps, every)) | {0, self.steps})

    @property
    def key(self) -> str:
        blob = json.dumps({"schema": SCHEMA, **to_json(self, identity=True)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        """A short human description, e.g. ``modular/mlp seed 0`` or ``... ticket 0.6@30000``."""
        task = to_json(self.task)
        task.pop("name", None)
        settings = "".join(f" {k}={v}" for k, v in sorted(task.items()) if k == "op")
        text = f"{self.task.name}{settings}/{self.model.name} seed {self.seed}"
        if self.mask is not None:
            if self.mask.use == "continue":
                text += f" from step {self.mask.resolved_step}"
            else:
                text += f" {self.mask.pruner} {self.mask.sparsity:g}@{self.mask.resolved_step}"
            if self.mask.use in ("l1_norm", "l2_norm"):
                text += f" {self.mask.use} control"
        if self.edge_popup is not None:
            text += (f" edge-popup {self.edge_popup.density:g}"
                     f"{' with weights' if self.edge_popup.train_weights else ''}"
                     f" scores {self.edge_popup.score_seed}")
        return text


MASK_USES = ("mask", "l1_norm", "l2_norm", "continue")
NORM_RATIOS = ("global", "per_matrix")


@dataclass(frozen=True)
class MaskSpec:
    """Where a derived run's fixed mask and starting weights come from.

    The mask removes the fraction ``sparsity`` of all prunable weights with the lowest ``pruner``
    score (one global threshold), scored on the parent's weights at checkpoint ``step`` (``None``:
    its last step). Weights are then rewound to the parent's θ0 (paper §2, §3.1).

    ``use`` says what the run does with the mask: ``"mask"`` trains θ0 ⊙ m under the fixed mask (a
    ticket); ``"l1_norm"`` / ``"l2_norm"`` train the *dense* θ0 · r_p with r_p = ‖θ0 ⊙ m‖_p / ‖θ0‖_p,
    the norm-matched control of §4.1; ``"continue"`` trains on from the parent's weights at ``step``
    (no mask, no rewinding: the memorising start of Table 1). ``norm_ratio`` picks the paper's global ratio (``"global"``) or
    the authors' code's ratio of summed per-matrix norms (``"per_matrix"``, SPEC §1.7).
    """

    parent: RunConfig
    step: int | None = None
    pruner: str = "magnitude"
    sparsity: float = 0.6
    use: str = "mask"
    norm_ratio: str = "global"

    def __post_init__(self):
        PRUNERS.get(self.pruner)
        if self.use not in MASK_USES:
            raise ValueError(f"unknown mask use {self.use!r}; valid: {', '.join(MASK_USES)}")
        if self.norm_ratio not in NORM_RATIOS:
            raise ValueError(f"unknown norm ratio {self.norm_ratio!r}; valid: {', '.join(NORM_RATIOS)}")
        if not isinstance(self.sparsity, (int, float)) or not 0.0 <= self.sparsity < 1.0:
            raise ValueError(f"sparsity (fraction removed) must lie in [0, 1), got {self.sparsity!r}")
        if self.step is not None and self.step not in self.parent.checkpoint_steps:
            raise ValueError(f"parent run has no checkpoint at step {self.step}; its checkpoints: "
                             f"{_short_list(self.parent.checkpoint_steps)}")

    @property
    def resolved_step(self) -> int:
        return self.parent.steps if self.step is None else self.step

    def check_child(self, child: RunConfig) -> None:
        """A rewound run must share its parent's task, model and seed (so θ0 and split match)."""
        for name in ("task", "model", "seed"):
            if getattr(child, name) != getattr(self.parent, name):
                raise ValueError(f"a derived run must keep its parent's {name}: "
                                 f"{getattr(child, name)!r} != {getattr(self.parent, name)!r}")


def _short_list(values: list[int]) -> str:
    return ", ".join(map(str, values)) if len(values) <= 8 else (
        f"{', '.join(map(str, values[:4]))}, ..., {', '.join(map(str, values[-2:]))}")


def to_json(obj: Any, identity: bool = False) -> Any:
    """Canonical JSON of a config: non-default dataclass fields only, tasks/models with their name.
    With ``identity=True``, storage-only fields (`STORAGE_FIELDS`) are left out."""
    if dataclasses.is_dataclass(obj):
        out = {"name": obj.name} if hasattr(type(obj), "name") else {}
        for f in dataclasses.fields(obj):
            if identity and f.name in STORAGE_FIELDS:
                continue
            value = getattr(obj, f.name)
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
            if value != default:
                out[f.name] = to_json(value, identity)
        return out
    if isinstance(obj, (list, tuple)):
        return [to_json(v, identity) for v in obj]
    return obj


def from_json(data: dict) -> RunConfig:
    """Inverse of `to_json` for a `RunConfig`."""
    data = dict(data)
    data.pop("schema", None)
    if "task" in data:
        params = dict(data["task"])
        name = params.pop("name")
        if name not in TASKS:  # defined outside gtlib, in a notebook (as the book's own_task page)
            raise ValueError(f"task {name!r} is not registered in this process (defined in a notebook? "
                             f"run its definition first); registered: {', '.join(TASKS.names())}")
        data["task"] = TASKS.get(name)(**params)
    if "model" in data:
        params = dict(data["model"])
        data["model"] = MODELS.get(params.pop("name"))(**params)
    if "optim" in data:
        data["optim"] = OptimConfig(**data["optim"])
    if "edge_popup" in data:
        params = dict(data["edge_popup"])
        params.pop("name", None)  # written for the reader, as for tasks and models
        data["edge_popup"] = EdgePopupConfig(**params)
    if "mask" in data:
        mask = dict(data["mask"])
        mask["parent"] = from_json(mask["parent"])
        data["mask"] = MaskSpec(**mask)
    return RunConfig(**data)


def derive(parent: RunConfig, *, sparsity: float = 0.6, step: int | None = None,
           pruner: str = "magnitude", use: str = "mask", norm_ratio: str = "global",
           **changes) -> RunConfig:
    """The run trained from the parent's θ0 under a fixed mask (or, with ``use``, its norm-matched
    dense control); ``changes`` edit the recipe (for example ``steps`` or ``optim``). With the
    magnitude pruner and the default use, this is the paper's ticket."""
    mask = MaskSpec(parent=parent, step=step, pruner=pruner, sparsity=sparsity, use=use,
                    norm_ratio=norm_ratio)
    return dataclasses.replace(parent, mask=mask, **changes)
