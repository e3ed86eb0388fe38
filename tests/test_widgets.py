"""The explorer (`gtlib.widgets`) and the static sliders (`gtlib.sliders`): driven from Python, and in a real kernel.

The explorer reads the committed paper-scale runs (``results/``, read-only here) and trains into a
temporary store: setting a widget's value changes the runs it plots and the figure's curves.
"""
import json
import textwrap

import ipywidgets as w
from ipywidgets.embed import embed_data
import matplotlib
import matplotlib.pyplot as plt
import pytest

from gtlib.paths import REPO_ROOT
from gtlib.store import Store
from gtlib.sliders import image_slider, png
from gtlib.widgets import Explorer

matplotlib.use("Agg")
RESULTS = REPO_ROOT / "results"
pytestmark = pytest.mark.skipif(not (RESULTS / "runs").is_dir(), reason="needs the committed results/")


@pytest.fixture
def explorer(tmp_path):
    """The explorer at the paper scale on the committed runs; it never trains by itself."""
    return Explorer("paper", store=Store(tmp_path / "store", (RESULTS,)), auto_train=0)


def labels(explorer):
    return {name: run.config.label for name, run in explorer.plotted.items()}


def lines(fig):
    """The legend labels and the data of every curve of a figure."""
    return [(line.get_label(), tuple(line.get_ydata())) for ax in fig.axes for line in ax.lines
            if not line.get_label().startswith("_")]


def test_setting_widgets_changes_the_plotted_runs(explorer):
    assert labels(explorer) == {"dense": "modular/mlp seed 0 checkpoint_every=2000",
                                "ticket 0.6@30000": "modular/mlp seed 0 checkpoint_every=0 magnitude 0.6@30000"}
    before = lines(explorer.curves_figure())
    explorer.sparsity.value = 0.3
    assert labels(explorer)["ticket 0.3@30000"] == "modular/mlp seed 0 checkpoint_every=0 magnitude 0.3@30000"
    after = lines(explorer.curves_figure())
    assert after != before and [c for c in after if c[0].startswith("dense")] == \
        [c for c in before if c[0].startswith("dense")]  # the dense run stays, the ticket changes
    explorer.sparsity.value = 0.6
    explorer.pruner.value = "snip"  # pruning at initialisation: the mask step goes to θ0
    assert explorer.mask_step.value == 0
    assert labels(explorer)["snip"] == "modular/mlp seed 0 checkpoint_every=0 snip 0.6@0"
    explorer.pruner.value = "magnitude"
    explorer.mask_step.value = 12_000  # a ticket from before the dense run generalises
    assert labels(explorer)["ticket 0.6@12000"] == "modular/mlp seed 0 checkpoint_every=0 magnitude 0.6@12000 of parent checkpoint_every=2000"
    assert {n: r.path for n, r in explorer.runs().items()} == \
        {n: r.path for n, r in explorer.plotted.items()}
    plt.close("all")


def test_checkpoint_and_neuron_sliders_redraw_weights_and_spectrum(explorer):
    assert explorer.checkpoint.options[-1][1] == 30_000 and len(explorer.checkpoint.options) == 16
    explorer.checkpoint.value = 2_000
    early = explorer.weights_figure()
    explorer.checkpoint.value = 30_000
    late = explorer.weights_figure()
    assert early.axes[0].images[0].get_array().tolist() != late.axes[0].images[0].get_array().tolist()
    assert explorer.neuron.max == 47
    spectra = [lines(explorer.spectrum_figure(neuron=n)) for n in (0, 1)]
    assert spectra[0] != spectra[1]
    plt.close("all")


def test_a_missing_choice_says_how_long_and_trains_on_request(tmp_path):
    """At a short quick-scale setting: nothing stored, so the explorer says what it would train
    and how long it takes; Train trains it (the dense run keeping its checkpoints) and plots it."""
    explorer = Explorer("quick", store=Store(tmp_path / "store"), auto_train=0,
                        changes={"steps": 60, "eval_every": 10, "checkpoint_every": 20})
    assert explorer.plotted == {} and not explorer.train_button.disabled
    assert "Not stored: modular/mlp seed 0 checkpoint_every=20 lr=0.01 steps=60" in explorer.message
    assert " s at the quick scale" in explorer.message
    runs = explorer.train()
    assert set(runs) == {"dense", "ticket 0.6@60"} and explorer.train_button.disabled
    assert runs["dense"].checkpoint_steps == [0, 20, 40, 60]
    explorer.mask_step.value = 20  # the dense run has that checkpoint: only the ticket trains
    assert [c.label for c in explorer.missing()] == [
        "modular/mlp seed 0 checkpoint_every=0 lr=0.01 steps=60 train_fraction=0.5 "
        "magnitude 0.6@20 of parent checkpoint_every=20"]
    assert explorer.seconds_per_step(explorer.choice().derived) > 0
    plt.close("all")


def test_image_slider_links_the_slider_to_the_images():
    figures = {}
    for k in (1, 2, 3):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1], [0, k])
        figures[f"k={k}"] = fig
    box = image_slider(figures, "k", "each k")
    caption, slider, stack = box.children
    assert isinstance(stack, w.Stack) and len(stack.children) == 3
    assert slider.options == ("k=1", "k=2", "k=3") and "make lab" in caption.value
    assert all(bytes(image.value).startswith(b"\x89PNG") for image in stack.children)
    # What the saved page holds: a link model between the two, run by the page's JavaScript.
    state = embed_data(views=[box])["manager_state"]["state"]
    links = [m["state"] for m in state.values() if m["model_name"] == "LinkModel"]
    assert any(link["source"] == [f"IPY_MODEL_{slider.model_id}", "index"]
               and link["target"] == [f"IPY_MODEL_{stack.model_id}", "selected_index"] for link in links)
    fig, _ = plt.subplots(figsize=(3, 2))
    assert len(png(fig, dpi=200)) < 20_000


def test_the_explorer_in_a_kernel(tmp_path):
    """The same, in an IPython kernel (as in JupyterLab): widget values set there change the runs
    it plots."""
    jupyter_client = pytest.importorskip("jupyter_client")
    script = textwrap.dedent(f"""
        import json, os
        os.environ["OMP_NUM_THREADS"] = "1"
        from gtlib.store import Store
        from gtlib.widgets import Explorer
        e = Explorer("paper", store=Store({str(tmp_path / 'store')!r}, ({str(RESULTS)!r},)), auto_train=0)
        seen = [sorted(r.config.label for r in e.plotted.values())]
        e.sparsity.value = 0.8
        seen.append(sorted(r.config.label for r in e.plotted.values()))
        e.seed.value = 1
        e.sparsity.value = 0.6
        seen.append(sorted(r.config.label for r in e.plotted.values()))
        print("SEEN" + json.dumps(seen))
    """)
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3", cwd=str(REPO_ROOT))
    try:
        out = []
        reply = kc.execute_interactive(script, timeout=120, output_hook=lambda msg: out.append(
            msg["content"].get("text", "") if msg["msg_type"] == "stream" else ""))
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    seen = json.loads("".join(out).split("SEEN", 1)[1].splitlines()[0])
    assert seen == [["modular/mlp seed 0 checkpoint_every=0 magnitude 0.6@30000",
                     "modular/mlp seed 0 checkpoint_every=2000"],
                    ["modular/mlp seed 0 checkpoint_every=0 magnitude 0.8@30000",
                     "modular/mlp seed 0 checkpoint_every=2000"],
                    ["modular/mlp seed 1 checkpoint_every=0 magnitude 0.6@30000",
                     "modular/mlp seed 1 checkpoint_every=2000"]]
