"""Precomputed sliders for the book: figures that change with a slider, without a kernel.

`image_slider` renders figures to PNG images in a ``Stack`` whose shown image follows a slider
through a ``jslink``, a link that runs in the page's JavaScript, so it works from the widget state
that papermill saves in the executed notebook. `sparsity_slider`, `mask_step_slider` and
`seed_slider` make one from a figure family's result and parameters; `gtlib.widgets.Explorer.slider`
makes one over any control of the live explorer. Every curve is drawn by `gtlib.plots.train_test_curves`.
"""
from __future__ import annotations

import io

import ipywidgets as w
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from PIL import Image

from . import plots
from .figures import across_tasks, sparsity, ticket_time
from .store import Run

LIVE = "the live version: <code>make lab</code>, <code>notebooks/explore.ipynb</code>"


def png(fig: Figure, dpi: int = 200, colours: int = 64) -> bytes:
    """The figure as a compressed PNG at ``dpi`` (200: twice the 100 px per inch it is shown at),
    reduced to a palette of ``colours``; the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    plt.close(fig)
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(out, format="png", optimize=True)
    return out.getvalue()


def image_slider(figures: dict[str, Figure], description: str, what: str, *, dpi: int = 200,
                 colours: int = 64) -> w.VBox:
    """A slider over ``figures`` (label -> figure) that shows one at a time, without a kernel.

    Each figure becomes a PNG (`png`) in an ``Image`` of a ``Stack``; the slider's index is
    ``jslink``ed to the stack's ``selected_index``, so the page's JavaScript switches the image from
    the saved widget state. ``what`` completes the caption "Move the slider to see ...". The figures
    are closed."""
    if not figures:
        raise ValueError("image_slider needs at least one figure")
    labels = list(figures)
    widths = {label: fig.get_figwidth() * 100 for label, fig in figures.items()}  # CSS px at 100 dpi
    images = [w.Image(value=png(fig, dpi, colours), format="png",
                      layout=w.Layout(width="100%", max_width=f"{widths[label]:.0f}px", height="auto"))
              for label, fig in figures.items()]
    stack = w.Stack(images, selected_index=0)
    slider = w.SelectionSlider(options=labels, value=labels[0], description=description,
                               continuous_update=True, style={"description_width": "initial"},
                               layout=w.Layout(width=f"{min(max(widths.values()), 640):.0f}px"))
    w.jslink((slider, "index"), (stack, "selected_index"))
    caption = w.HTML(f"<em>Move the slider to see {what} (precomputed; {LIVE}).</em>")
    return w.VBox([caption, slider, stack])


def curves(runs: dict[str, Run], title: str = "", *, log_x: bool = True,
           figsize: tuple[float, float] = (7, 3.4), losses: bool = False) -> Figure:
    """Train (dashed) and test (solid) curves of ``runs`` (name -> run; a name such as ``dense``,
    ``ticket 0.6@30000`` or a pruner picks the colour) with t_mem and t_gen marked: one panel of
    `gtlib.plots.train_test_curves` (accuracies, or losses with ``losses``)."""
    fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    plots.train_test_curves({name: run.history for name, run in runs.items()}, title=title,
                            log_x=log_x, ax=ax, losses=losses)
    if log_x:
        ax.set_xlim(left=0)  # symlog's margin would otherwise show negative steps
    return fig


def spread(values: list, most: int) -> list:
    """At most ``most`` of ``values``, evenly spread, first and last included."""
    if len(values) <= most:
        return list(values)
    picks = sorted({round(i * (len(values) - 1) / (most - 1)) for i in range(most)})
    return [values[i] for i in picks]


def _quantity(run: Run) -> str:
    return "loss" if run.history.is_regression else "accuracy"


def sparsity_slider(result: sparsity.Result, params: sparsity.Params, most: int = 10) -> w.VBox:
    """Figures 3, 4b, 17: a slider over the sweep's sparsities (at most ``most``), each the ticket's
    train and test curves against the dense run's."""
    dense, tickets = result.dense, result.tickets
    heading = plots.setting(dense, params.scale)
    figures = {f"{s:g}": curves({"dense": dense, f"ticket {s:g}": tickets[s]},
                                f"ticket at sparsity {s:g} against the dense run; {heading}")
               for s in spread(sorted(tickets), most)}
    return image_slider(figures, "sparsity", f"the {_quantity(dense)} of the ticket at each sparsity "
                        "against the dense run's")


def mask_step_slider(result: ticket_time.Result, params: ticket_time.Params, most: int = 8) -> w.VBox:
    """Figure 4a: a slider over the steps the masks are taken at (at most ``most``), each that
    ticket's train and test curves against the dense run's."""
    dense, tickets = result.dense, result.tickets
    heading = plots.setting(dense, params.scale)
    figures = {f"{t:,}": curves({"dense": dense, f"ticket, mask at step {t:,}": tickets[t]},
                                f"ticket with the mask from step {t:,}; {heading}")
               for t in spread(sorted(tickets), most)}
    return image_slider(figures, "mask step", "the ticket whose mask comes from each checkpoint of the "
                        "dense run, against the dense run")


def seed_slider(result: across_tasks.Result, params: across_tasks.Params) -> w.VBox | None:
    """Figures 2, 10, 11: a slider over the seeds, each seed's dense runs and tickets (one pair per
    task or operation); None when the page has a single seed (its figure shows it all). The curves
    are the page's ``curves``: "loss" (Figure 11) or "accuracy" (default: accuracy, loss for
    regression)."""
    groups = result.groups
    seeds = [r.config.seed for r in next(iter(groups.values())).dense]
    if len(seeds) < 2:
        return None
    first = result.first
    figures = {}
    for i, seed in enumerate(seeds):
        shown = {}
        for name, group in groups.items():
            prefix = "" if len(groups) == 1 else f"{name} "
            shown[f"{prefix}dense"], shown[f"{prefix}ticket"] = group.dense[i], group.ticket[i]
        figures[str(seed)] = curves(shown, f"seed {seed}; {plots.setting(first, params.scale)}",
                                    losses=params.curves == "loss")
    quantity = "loss" if params.curves == "loss" else _quantity(first)
    return image_slider(figures, "seed", f"the train and test {quantity} of the dense run and its "
                        "grokked ticket for each seed")
