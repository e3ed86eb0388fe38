"""The live explorer of the runs, and its precomputed sliders for the book.

**Live** (a kernel: JupyterLab via ``make lab``, ``notebooks/explore.ipynb``): `Explorer` chooses a
task, model, seed, pruner, sparsity and the step the mask is taken at, and shows the dense run against
the derived one (train and test curves with t_mem and t_gen), the dense run's weights and masks at a
checkpoint chosen with a slider (as Figures 18 and 19) and one neuron's Fourier spectrum (the paper's
MLP on modular arithmetic, as Figure 8). It reads the run store (``Store.default()``: the committed
paper-scale runs in ``results/`` and the quick runs in ``.gtlib-store/``); a choice that is not
stored is trained at the quick scale with a progress bar, after saying how long it will take. Its
logic needs no front end: set the widgets' values from Python and read `Explorer.plotted` (the runs
being plotted) or `Explorer.runs()`.

**Static** (the book, no kernel): `Explorer.frames` draws the explorer's figures for each value of
one control and `Explorer.slider` puts them under a precomputed slider (`gtlib.sliders`, which also
has the sliders of the figure pages).

Every curve is drawn by `gtlib.plots.train_test_curves`, the weights and masks by
`gtlib.figures.weights_and_masks.draw`: the figures' own plotting functions.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import clear_output, display
from matplotlib.figure import Figure

from . import plots, tasks
from .analysis.fourier import neuron_inputs, power_spectrum
from .analysis.masks import magnitude_masks
from .config import RunConfig, derive
from .figures import weights_and_masks
from .presets import SCALES, dense_config, task_model
from .runs import missing, run_many
from .sliders import image_slider, spread
from .store import CorruptRunError, Run, Store

# The explorer's choices. Pruners: the grokked ticket's magnitude pruning (of the dense run's weights
# at the mask step) and the paper's pruning at initialisation (§4.2, scored at step 0 by default).
TASKS = tuple(tasks.TASKS)  # every registered task, in the order of registration
MODELS = {"modular": ("mlp", "transformer")}  # other tasks: their paper model only
PRUNERS = {"magnitude": "magnitude (ticket)", "random": "random", "snip": "SNIP", "grasp": "GraSP",
           "synflow_tokens": "SynFlow (1 round, as the authors)", "synflow": "SynFlow (100 rounds)"}
SPARSITIES = tuple(round(0.05 * i, 2) for i in range(1, 20))  # 0.05 ... 0.95
SEEDS = tuple(range(10))

# Milliseconds per step of one run, measured on the project's 2-core CPU (quick scale, evaluation
# every 10 steps); used only when no stored run of the same task and model has a wall time.
MS_PER_STEP = {"mlp": 4.0, "transformer": 9.0, "deep_mlp": 8.0}
AUTO_TRAIN_SECONDS = 60.0  # the explorer trains a missing quick-scale choice by itself up to this

# ---------------------------------------------------------------------------------------------
# The live explorer

class _AtStep:
    """A run seen at one checkpoint: ``weights()`` gives that step's weights (for the figure
    functions, which plot a run's last weights)."""

    def __init__(self, run: Run, step: int, masks: dict | None = None):
        self.config, self.run, self.step, self._masks = run.config, run, step, masks

    def weights(self, step: int | None = None):
        return self.run.weights(self.step if step is None else step)

    def masks(self):
        return self.run.masks() if self._masks is None else self._masks


@dataclasses.dataclass
class Choice:
    """What the explorer shows: the dense run and the network derived from it."""

    dense: RunConfig
    derived: RunConfig
    name: str  # the derived run's name in legends: "ticket 0.6@1500" or a pruner

    @property
    def configs(self) -> dict[str, RunConfig]:
        return {"dense": self.dense, self.name: self.derived}


class Explorer:
    """Choose a run with widgets and see it; `ui` is the widget to display.

    Every control is an attribute (``scale``, ``task``, ``model``, ``seed``, ``pruner``,
    ``sparsity``, ``mask_step``, ``checkpoint``, ``neuron``); setting one's ``value`` (from the
    front end or from Python) redraws. `plotted` holds the runs being plotted (name -> `Run`), empty
    while the choice is not stored; `runs()` returns them, training what is missing if asked.
    ``auto_train``: a missing choice at the quick scale trains by itself when it takes at most this
    many seconds (0: only the Train button trains). ``changes`` override the scale's preset
    (RunConfig fields, e.g. ``{"steps": 300}`` for a shorter run). ``live=False`` draws nothing
    into the output widgets (an explorer used only for `frames` and `slider`, as the book does).
    """

    def __init__(self, scale: str = "quick", *, task: str = "modular", model: str | None = None,
                 seed: int = 0, pruner: str = "magnitude", sparsity: float = 0.6,
                 mask_step: int | None = None, store: Store | None = None, device: str = "auto",
                 auto_train: float = AUTO_TRAIN_SECONDS, changes: dict | None = None,
                 live: bool = True):
        plots.use_sharp_figures()  # the explorer draws its own figures
        self.store = store or Store.default()
        self.device, self.auto_train, self.changes = device, auto_train, dict(changes or {})
        self.live = live  # False: no drawing into the output widgets (for `frames` and tests)
        self._listing = None
        self._quiet = 0
        self.plotted: dict[str, Run] = {}
        self.message = ""
        wide = {"style": {"description_width": "initial"}}
        long = {"style": {"description_width": "initial"}, "layout": w.Layout(width="520px")}
        self.scale = w.ToggleButtons(options=SCALES, value=scale, description="scale",
                                     style={"description_width": "initial", "button_width": "64px"})
        self.task = w.Dropdown(options=TASKS, value=task, description="task", **wide)
        self.model = w.Dropdown(options=self._models(task), description="model", **wide)
        self.model.value = model or self.model.options[0]
        self.seed = w.Dropdown(options=SEEDS, value=seed, description="seed", **wide)
        self.pruner = w.Dropdown(options=[(label, key) for key, label in PRUNERS.items()], value=pruner,
                                 description="pruner", **wide)
        self.sparsity = w.SelectionSlider(options=[(f"{s:g}", s) for s in SPARSITIES],
                                          value=_nearest(SPARSITIES, sparsity),
                                          description="sparsity (removed)", **long)
        self.mask_step = w.SelectionSlider(options=[(0, 0)], description="mask step (dense run)", **long)
        self.checkpoint = w.SelectionSlider(options=[(0, 0)], description="checkpoint (dense run)",
                                            **long)
        self.neuron = w.IntSlider(value=0, min=0, max=0, description="neuron", **long)
        self._checkpoints_of = None  # the dense run whose checkpoints the slider lists
        self.train_button = w.Button(description="Train", icon="play", disabled=True)
        self.status = w.HTML()
        self.out_curves, self.out_weights, self.out_spectrum = w.Output(), w.Output(), w.Output()
        self.out_train = w.Output()
        self._set_mask_steps(mask_step)
        for control in (self.scale, self.task, self.model, self.seed, self.pruner, self.sparsity,
                        self.mask_step):
            control.observe(self._changed, names="value")
        self.checkpoint.observe(lambda _: self._draw_checkpoint(), names="value")
        self.neuron.observe(lambda _: self._draw_spectrum(), names="value")
        self.train_button.on_click(lambda _: self.train())
        self.refresh()

    # -- the widget ---------------------------------------------------------------------------
    @property
    def ui(self) -> w.VBox:
        """The explorer: its controls, status, curves, weights and masks, and spectrum."""
        choose = w.VBox([w.HBox([self.scale, self.task, self.model, self.seed]), self.pruner,
                         self.sparsity, self.mask_step, w.HBox([self.train_button, self.status]),
                         self.out_train])
        inspect = w.VBox([self.checkpoint, self.out_weights, self.neuron, self.out_spectrum])
        return w.VBox([choose, self.out_curves, inspect])

    def _ipython_display_(self):
        display(self.ui)

    # -- what is chosen -------------------------------------------------------------------------
    @staticmethod
    def _models(task: str) -> tuple[str, ...]:
        return MODELS.get(task, (task_model(task)[0],))

    def _preset(self) -> RunConfig:
        """The dense run with the scale's checkpoints (the steps a mask can be taken at)."""
        return dense_config(self.task.value, self.model.value, scale=self.scale.value,
                            seed=self.seed.value, **self.changes)

    def choice(self) -> Choice:
        """The dense run and the derived one the controls choose. Both keep only what they need (a
        stored run that keeps more serves them): the dense run θ0 and its last weights; the derived
        run its history and mask (no weights, as the sweeps store it: README, "What a run keeps").
        The dense run is shown with the scale's checkpoints where they are stored.
        Its mask names the parent that keeps the chosen step (`config.MaskSpec`)."""
        preset = self._preset()
        derived = derive(preset, sparsity=self.sparsity.value, step=self.mask_step.value,
                         pruner=self.pruner.value, checkpoint_every=0)
        name = (f"ticket {self.sparsity.value:g}@{self.mask_step.value}"
                if self.pruner.value == "magnitude" else self.pruner.value)
        dense = preset if self._stored(preset) else dataclasses.replace(preset, checkpoint_every=None)
        return Choice(dense, derived, name)

    def _stored(self, cfg: RunConfig) -> Run | None:
        """The stored run serving ``cfg``, or None (also where its files fail their checksums)."""
        try:
            return self.store.load(cfg)
        except CorruptRunError:
            return None

    def missing(self, choice: Choice | None = None) -> list[RunConfig]:
        """The runs that training the choice trains (`gtlib.runs.missing`). A missing dense run is
        trained with the scale's checkpoints, so that any later mask step finds its checkpoint."""
        choice = choice or self.choice()
        asked = [choice.dense, choice.derived]
        if self._stored(choice.dense) is None:
            asked.insert(0, self._preset())
        return missing(asked, self.store)

    def listing(self):
        """The store's listing (`Store.listing`), read once and after each training."""
        if self._listing is None:
            self._listing = self.store.listing()
        return self._listing

    def seconds_per_step(self, cfg: RunConfig) -> float:
        """One run's seconds per step for ``cfg``'s task and model at its length: the median over
        stored runs of the same task, model and steps of their batch's wall time / batch size /
        steps (their meta.json), or `MS_PER_STEP` where none is stored."""
        table = self.listing()
        same = table[(table["task"] == cfg.task.name) & (table["model"] == cfg.model.name)
                     & (table["steps"] == cfg.steps) & table["wall_seconds"].notna()]
        rates = same["wall_seconds"] / same["batch_size"].fillna(1).clip(lower=1) / cfg.steps
        return float(np.median(rates)) if len(rates) else MS_PER_STEP.get(cfg.model.name, 8.0) / 1000

    def estimate(self, cfgs: list[RunConfig]) -> float:
        """Seconds to train ``cfgs``, one after the other (batching makes it shorter)."""
        return sum(cfg.steps * self.seconds_per_step(cfg) for cfg in cfgs)

    # -- getting and drawing the runs -------------------------------------------------------------
    def runs(self, train: bool = False) -> dict[str, Run]:
        """The runs of the current choice (name -> run), the dense run first; with ``train``, what
        is missing is trained first (with a progress bar), otherwise a missing choice gives {}."""
        choice = self.choice()
        todo = self.missing(choice)
        if todo and not train:
            return {}
        if todo:
            run_many(todo, self.store, device=self.device, progress=True)
            self._listing = None
        return {name: self._stored(cfg) for name, cfg in choice.configs.items()}

    def train(self) -> dict[str, Run]:
        """Train the current choice where it is missing (the Train button), then draw it."""
        todo = self.missing()
        with self.out_train:
            clear_output()
            if todo:
                print(f"training {len(todo)} run(s), about {_duration(self.estimate(todo))}: "
                      + "; ".join((c.label for c in todo)))
            self.runs(train=True)
        self.refresh()
        return self.plotted

    def refresh(self) -> None:
        """Read the choice from the store (training it if allowed) and redraw everything."""
        if self._quiet:
            return
        choice = self.choice()
        todo = self.missing(choice)
        seconds = self.estimate(todo) if todo else 0.0
        if todo and self.scale.value == "quick" and seconds <= self.auto_train:
            with self.out_train:
                clear_output()
                print(f"not stored yet: training {len(todo)} run(s) at the quick scale, about "
                      f"{_duration(seconds)}")
                self.runs(train=True)
            todo = []
        if todo:
            self.plotted = {}
            hint = "" if self.scale.value == "quick" else " (the quick scale trains in seconds)"
            self.message = (f"Not stored: {'; '.join((c.label for c in todo))}. Training takes about "
                            f"{_duration(seconds)} at the {self.scale.value} scale{hint}: press Train.")
            self.train_button.disabled = False
        else:
            self.plotted = {name: self._stored(cfg) for name, cfg in choice.configs.items()}
            self.message = "; ".join(f"{name}: t_mem {_t(r.history.t_mem)}, t_gen {_t(r.history.t_gen)}"
                                     f" ({_where(r)})" for name, r in self.plotted.items())
            self.train_button.disabled = True
        self.status.value = self.message
        self._set_checkpoints()
        self._draw_curves()
        self._draw_checkpoint()
        self._draw_spectrum()

    def _changed(self, change) -> None:
        if change["owner"] is self.task:
            with self._hold():
                models = self._models(self.task.value)
                self.model.options = models
                self.model.value = models[0]
        if change["owner"] in (self.task, self.model, self.scale, self.pruner):
            with self._hold():  # a mask at the step the paper takes it: last for a ticket, θ0 otherwise
                self._set_mask_steps(None if self.pruner.value == "magnitude" else 0)
        self.refresh()

    @contextlib.contextmanager
    def _hold(self):
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def _set_mask_steps(self, step: int | None) -> None:
        steps = self._preset().checkpoint_steps
        options = [(f"{t:,}", t) for t in steps]
        with self._hold():
            self.mask_step.options = options
            self.mask_step.value = steps[-1] if step is None else _nearest(steps, step)

    def _set_checkpoints(self) -> None:
        dense = self.plotted.get("dense")
        steps = dense.checkpoint_steps if dense else [0]
        same = dense is not None and dense.path == self._checkpoints_of
        current = self.checkpoint.value if same else None  # another dense run: its last step
        self._checkpoints_of = dense.path if dense else None
        with self._hold():
            self.checkpoint.options = [(f"{t:,}", t) for t in steps]
            self.checkpoint.value = current if current in steps else steps[-1]
        self.checkpoint.disabled = dense is None
        rows = self._neuron_rows(self.checkpoint.value) if dense else None
        with self._hold():
            self.neuron.max = 0 if rows is None else rows.shape[0] - 1
        self.neuron.disabled = rows is None

    def _show(self, out: w.Output, fig: Figure | None, note: str = "") -> None:
        if not self.live:
            if fig is not None:
                plt.close(fig)
            return
        with out:
            clear_output(wait=True)
            if note:
                print(note)
            if fig is not None:
                display(fig)
                plt.close(fig)

    def _draw_curves(self) -> None:
        if self.live:
            self._show(self.out_curves, self.curves_figure() if self.plotted else None)

    def _draw_checkpoint(self) -> None:
        if self.live and not self._quiet:
            self._show(self.out_weights, self.weights_figure() if self.plotted else None)

    def _draw_spectrum(self) -> None:
        if self._quiet or not self.live:
            return
        fig = self.spectrum_figure() if self.plotted else None
        note = "" if fig is not None or not self.plotted else \
            "Fourier spectra: for the paper's MLP on modular arithmetic (its neurons' inputs are residues)."
        self._show(self.out_spectrum, fig, note)

    def _title(self) -> str:
        dense = self.plotted["dense"]
        derived = self.plotted[next(n for n in self.plotted if n != "dense")]
        mask = derived.config.mask
        how = "ticket" if mask.pruner == "magnitude" else f"{plots.display(mask.pruner)} mask"
        return (f"dense run and {how} (sparsity {mask.sparsity:g}, mask from step "
                f"{mask.step:,}); {plots.setting(dense, self.scale.value)}, seed {dense.config.seed}")

    def curves_figure(self) -> Figure:
        """The plotted runs' train and test curves, t_mem and t_gen marked, on a linear and a log
        step axis (as Figure 1)."""
        histories = {name: run.history for name, run in self.plotted.items()}
        fig, axes = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
        plots.train_test_curves(histories, title="linear step axis", ax=axes[0])
        plots.train_test_curves(histories, title="log step axis", log_x=True, mark_times=False,
                                ax=axes[1])
        fig.suptitle(self._title())
        return fig

    def weights_figure(self, step: int | None = None) -> Figure:
        """The dense run's weights at checkpoint ``step`` (default: the slider's), the magnitude
        mask a ticket taken there would get at the chosen sparsity, and the derived run's mask. The
        paper's MLP is drawn by Figure 18's function; other models one matrix per panel."""
        step = self.checkpoint.value if step is None else step
        dense = self.plotted["dense"]
        name = next(n for n in self.plotted if n != "dense")
        derived = self.plotted[name]
        names = list(dense.masks())
        sparsity = self.sparsity.value
        dense_at = _AtStep(dense, step)
        masked = {f"magnitude {sparsity:g} at step {step:,}":
                      _AtStep(dense, step, magnitude_masks(dense.weights(step), sparsity, names)),
                  name: derived}
        if dense.config.model.name == "mlp":
            return weights_and_masks.draw(dense_at, masked, f"weights at step {step:,} and masks: "
                                                           f"{plots.setting(dense, self.scale.value)}")
        return _matrix_grid(dense_at, masked, step, f"weights at step {step:,} and masks")

    def _neuron_rows(self, step: int):
        dense = self.plotted.get("dense")
        if dense is None or dense.config.model.name != "mlp" or dense.config.task.name != "modular":
            return None
        return neuron_inputs(dense.weights(step)).numpy()

    def spectrum_figure(self, step: int | None = None, neuron: int | None = None) -> Figure | None:
        """One neuron's input weights over the residues (a row of W_in · W_E) and their power
        spectrum (`gtlib.analysis.fourier`), for the dense run at the checkpoint and for the derived
        run at its end (masked) where it keeps its weights. None for models other than the paper's
        MLP on modular arithmetic."""
        step = self.checkpoint.value if step is None else step
        neuron = self.neuron.value if neuron is None else neuron
        rows = self._neuron_rows(step)
        if rows is None:
            return None
        name = next(n for n in self.plotted if n != "dense")
        derived = self.plotted[name]
        shown = {f"dense, step {step:,}": ("dense", rows[neuron])}
        if derived.config.steps in derived.checkpoint_steps:  # most derived runs keep no weights
            shown[f"{plots.display(name)}, step {derived.config.steps:,}"] = (
                name, neuron_inputs(derived.weights(), derived.masks()).numpy()[neuron])
        fig, axes = plt.subplots(1, 2, figsize=(12, 3.2), constrained_layout=True)
        for i, (label, (role, row)) in enumerate(shown.items()):
            colour = plots.colour(role.split()[0] if role.startswith("ticket ") else role, i)
            spectrum = power_spectrum(torch.as_tensor(row)[None]).numpy()[0]
            share = spectrum / spectrum.sum() if spectrum.sum() > 0 else spectrum
            axes[0].plot(row / (np.abs(row).max() or 1), color=colour, label=label)
            axes[1].bar(np.arange(1, len(share) + 1) + (i - 0.5) * 0.4, share, width=0.4,
                        color=colour, label=label)
        axes[0].set_xlabel("input residue a")
        axes[0].set_ylabel("weight (scaled to max 1)")
        axes[0].set_title(f"neuron {neuron}: its input weights (a row of W_in · W_E)")
        axes[1].set_xlabel("frequency k")
        axes[1].set_ylabel("share of the power")
        axes[1].set_title(f"neuron {neuron}: power spectrum over the residues")
        for ax in axes:
            ax.legend(fontsize=8)
        return fig

    # -- precomputed frames for the book ---------------------------------------------------------------
    def frames(self, control: str, values: list | None = None, panel: str = "curves",
               most: int | None = None) -> dict[str, Figure]:
        """One figure of ``panel`` ("curves", "weights" or "spectrum") per value of the control
        named ``control`` (default: all its options, at most ``most`` of them evenly spread), as
        the explorer draws it. Nothing is trained: values whose runs are not stored are left out.
        The control is set back, and the explorer redrawn, afterwards."""
        widget = getattr(self, control)
        if isinstance(widget, w.IntSlider):
            options = [(str(v), v) for v in range(widget.min, widget.max + 1)]
        else:
            options = [o if isinstance(o, tuple) else (str(o), o) for o in widget.options]
        labels = {value: str(label) for label, value in options}
        values = list(labels) if values is None else list(values)
        values = spread(values, most) if most else values
        draw = {"curves": self.curves_figure, "weights": self.weights_figure,
                "spectrum": self.spectrum_figure}[panel]
        before, out = widget.value, {}
        live, auto, self.live, self.auto_train = self.live, self.auto_train, False, 0
        try:
            for value in values:
                widget.value = value
                fig = draw() if self.plotted else None
                if fig is not None:
                    out[labels.get(value, str(value))] = fig
        finally:
            self.live, self.auto_train = live, auto
            widget.value = before
            self.refresh()
        return out

    def slider(self, control: str, what: str, values: list | None = None, panel: str = "curves",
               most: int | None = 8, dpi: int = 200) -> w.VBox:
        """A precomputed slider (`image_slider`) over the control named ``control``: `frames` of
        ``panel``. ``what`` completes its caption "Move the slider to see ..."."""
        frames = self.frames(control, values, panel, most)
        return image_slider(frames, getattr(self, control).description, what, dpi=dpi)


def _matrix_grid(dense: _AtStep, masked: dict, step: int, title: str) -> Figure:
    """Weights and masks one matrix per panel (models without a residue axis): a row per network,
    ``dense``'s weights, then the masks of ``masked`` (name -> run)."""
    rows = {"dense": dense, **masked}
    names = list(dense.masks())
    fig, axes = plt.subplots(len(rows), len(names), figsize=(2.2 * len(names), 2.2 * len(rows)),
                             constrained_layout=True, squeeze=False)
    for r, (label, run) in enumerate(rows.items()):
        tensors = run.weights() if label == "dense" else run.masks()
        for c, name in enumerate(names):
            image = tensors[name].float().reshape(tensors[name].shape[0], -1).numpy()
            limit = float(np.abs(image).max()) or 1.0
            axes[r, c].imshow(image, aspect="auto", interpolation="nearest",
                              cmap="RdBu_r" if label == "dense" else "Greys",
                              vmin=-limit if label == "dense" else 0, vmax=limit)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(name, fontsize=9)
            if c == 0:
                axes[r, c].set_ylabel(f"weights at step {step:,}" if label == "dense"
                                      else f"{plots.display(label)}\nmask", fontsize=8)
    fig.suptitle(f"{title}: {plots.setting(dense)}")
    return fig


def _nearest(options, value: float):
    return min(options, key=lambda o: abs(o - value))


def _t(step: int | None) -> str:
    return "never" if step is None else f"{step:,}"


def _where(run: Run) -> str:
    root = run.path.parent.parent
    return f"stored in {root.name}/" if root.name else "stored"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(math.ceil(seconds), 1)} s"
    return f"{seconds / 60:.0f} min"
