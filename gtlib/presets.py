"""Scales: the settings of every task at the ``paper`` scale and at the ``quick`` scale.

- ``paper``: the paper's recipe (SPEC §1.4): AdamW lr 1e-3, weight decay 1, 40 % of the pairs for
  training, 30k full-batch steps for the dense run and for the ticket; checkpoints every 2k steps.
- ``quick``: a setting that groks in a few hundred steps, so that CI can show each claim in about a
  minute on a 2-core CPU: lr 1e-2 and 50 % of the pairs for training (the dense setting of the
  paper's own edge-popup experiment, SPEC §1.9), 1,500 steps.
Both scales log train and test metrics every 10 steps (some tasks less often).

Each task carries its own model and its settings per scale, as class attributes ``model`` and
``presets`` of its dataclass (`gtlib.tasks`), so a task registered anywhere, a notebook included, has
them (`task_model`, `task_presets`).
`dense_config` builds the dense run of a task at a scale; every figure family starts from it.
"""
from __future__ import annotations

from .config import OptimConfig, RunConfig
from .models import make_model
from .tasks import TASKS, make_task

SCALES = ("quick", "paper")


def task_model(task: str) -> tuple[str, dict]:
    """The model ``task`` is shown with and its settings: its class's ``model``."""
    cls = TASKS.get(task)
    if not hasattr(cls, "model"):
        raise ValueError(f"task {task!r} names no model: give its class a `model` attribute, "
                         "e.g. model = ('mlp', {})")
    return cls.model


def task_presets(task: str) -> dict[str, dict]:
    """Scale -> the settings of ``task`` that differ from the library defaults: its class's
    ``presets`` (a scale it leaves out gets the defaults, which are the paper's recipe)."""
    presets = getattr(TASKS.get(task), "presets", {})
    unknown = sorted(set(presets) - set(SCALES))
    if unknown:
        raise ValueError(f"task {task!r} has presets for unknown scale(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(SCALES)}")
    return presets


def check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(SCALES)}")


def dense_config(task: str = "modular", model: str | None = None, *, scale: str = "quick",
                seed: int = 0, task_params: dict | None = None, model_params: dict | None = None,
                **changes) -> RunConfig:
    """The dense run of ``task`` at ``scale``, with the task's usual model when ``model`` is
    None; ``task_params``, ``model_params`` and ``changes`` (RunConfig fields) override the preset."""
    check_scale(scale)
    make_task(task)  # an unknown task name fails here, with the valid names
    default_model, default_params = task_model(task)
    model = model or default_model
    preset = dict(task_presets(task).get(scale, {}))
    task_cfg = make_task(task, **{**preset.pop("task", {}), **(task_params or {})})
    preset_model = preset.pop("model", {})
    params = {**default_params, **preset_model} if model == default_model else {}
    model_cfg = make_model(model, **{**params, **(model_params or {})})
    optim = OptimConfig(**preset.pop("optim", {}))
    return RunConfig(task=task_cfg, model=model_cfg, optim=optim, seed=seed, **{**preset, **changes})
