"""Figure families: presets, bad input refused before any work (leaving nothing in the store), and
each family's runs, checks and plot on a tiny setting."""
import matplotlib
import pytest

from gtlib import claims, pages
from gtlib.figures import (across_tasks, controls, edge_popup_table, graphs, grokked_ticket, mask_dynamics,
                           periodicity, sparsity, ticket_time, weights_and_masks)
from gtlib.history import RunHistory
from gtlib.presets import as_kind, dense_config
from gtlib.tasks import MNIST, ModularArithmetic, PolynomialRegression, SparseParity

matplotlib.use("Agg")


def test_paper_preset_is_the_papers_recipe():
    cfg = dense_config(scale="paper")
    assert (cfg.task.p, cfg.task.train_fraction, cfg.task.op) == (67, 0.4, "add")
    assert (cfg.model.d_emb, cfg.model.d_hidden, cfg.model.init_scale) == (500, 48, 1.0)
    assert (cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.betas) == (1e-3, 1.0, (0.9, 0.98))
    assert cfg.steps == 30_000 and cfg.checkpoint_steps[:3] == [0, 2000, 4000]


@pytest.mark.parametrize("kwargs, message", [
    ({"task": "parity"}, "unknown task 'parity'; valid: mnist, modular, polynomial, sparse_parity"),
    ({"model": "cnn"}, "unknown model 'cnn'; valid: deep_mlp, mlp, transformer"),
    ({"scale": "huge"}, "unknown scale 'huge'; valid: quick, paper"),
    ({"sparsity": 1.2}, "must lie in [0, 1), got 1.2"),
    ({"mask_step": 123}, "parent run has no checkpoint at step 123; its checkpoints: 0, 250, 500, 750, 1000, 1250, 1500"),
    ({"task_params": {"p": 1}}, "modulus p must be an integer >= 2"),
    ({"task_params": {"q": 5}}, "unknown parameter(s) 'q' for task 'modular'"),
])
def test_bad_input_fails_at_once_and_leaves_nothing(store, kwargs, message):
    with pytest.raises(ValueError) as err:
        grokked_ticket.runs(store=store, progress=False, **kwargs)
    assert message in str(err.value)
    assert not store.root.exists()


def test_a_non_positive_step_count_is_refused():
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        dense_config(steps=0)


@pytest.mark.parametrize("call, message", [
    (lambda s: controls.runs(store=s, progress=False, pruners=["random", "obd"]),
     "unknown pruner 'obd'; valid:"),
    (lambda s: controls.runs(store=s, progress=False, norm_ratio="layer"),
     "unknown norm ratio 'layer'; valid: global, per_matrix"),
    (lambda s: sparsity.runs(store=s, progress=False, sparsities=[0.5, 1.0]),
     "must lie in [0, 1), got 1.0"),
    (lambda s: sparsity.runs(store=s, progress=False, sparsities=[-0.1, 0.5]),
     "must lie in [0, 1), got -0.1"),
    (lambda s: ticket_time.runs(store=s, progress=False, checkpoint_every=0), "checkpoint_every"),
    (lambda s: across_tasks.runs(store=s, progress=False, ops=["divide"]), "unknown modular op 'divide'"),
    (lambda s: across_tasks.runs("paper", "mnist", store=s, progress=False, ops=["add"]),
     "ops apply to the modular task only"),
])
def test_sweeps_refuse_bad_input_before_training_anything(store, call, message):
    with pytest.raises(ValueError) as err:
        call(store)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert not store.root.exists()


def test_lists_given_as_text_on_a_command_line_are_read_as_lists():
    # papermill -p seeds "[0, 1, 2]" passes the text; every sweep reads it as the list.
    assert as_kind("seeds", "[0, 1, 2]", list) == [0, 1, 2]
    assert as_kind("task_params", "{'p': 5}", dict) == {"p": 5}
    assert as_kind("sparsities", (0.1, 0.2), list) == [0.1, 0.2]
    with pytest.raises(ValueError, match=r"seeds must be a list, got '\[0, 1'"):
        as_kind("seeds", "[0, 1", list)
    with pytest.raises(ValueError, match="pruners must be a list, got 'snip'"):
        controls.runs(pruners="snip", progress=False)


TINY = {"task_params": {"p": 11, "train_fraction": 0.5}}


@pytest.fixture
def tiny_scale(monkeypatch):
    """The quick modular preset shrunk to a tiny model and 60 steps, so that every family trains in
    seconds."""
    from gtlib.tasks import ModularArithmetic

    tiny = {"steps": 60, "eval_every": 5, "checkpoint_every": 20, "task": {"train_fraction": 0.5},
            "model": {"d_emb": 16, "d_hidden": 8}, "optim": {"lr": 1e-2}}
    monkeypatch.setattr(ModularArithmetic, "presets", {**ModularArithmetic.presets, "quick": tiny})


@pytest.mark.parametrize("family, kwargs", [
    (grokked_ticket, {}),
    (across_tasks, {"ops": ["add", "multiply"]}),
    (sparsity, {"sparsities": [0.0, 0.5, 0.9]}),
    (sparsity, {"sparsities": [0.5, 0.9], "ticket_weight_decay": 0.0}),
    (ticket_time, {}),
    (controls, {"pruners": ["random", "snip"]}),
    (mask_dynamics, {}),
    (graphs, {}),
    (periodicity, {}),
    (weights_and_masks, {"pruners": ["random", "snip"]}),
    (edge_popup_table, {"memorising_step": 20, "score_seeds": [0, 1], "steps": 100}),
])
def test_every_family_has_runs_checks_and_a_plot(store, tiny_scale, family, kwargs):
    params = {} if family in (mask_dynamics, graphs, edge_popup_table) else {"task_params": {"p": 11}}
    runs = family.runs("quick", store=store, progress=False, **params, **kwargs)
    assert all(isinstance(label, str) and group for label, group in runs.items())
    figures = ["Fig 17a", "Fig 17b"] if kwargs.get("ticket_weight_decay") == 0.0 else None
    checks = family.checks(runs, figures) if figures else family.checks(runs)
    assert checks and all(c.id and c.rule and isinstance(c.holds, bool) for c in checks)
    assert len({c.id for c in checks}) == len(checks)
    fig = family.plot(runs)
    assert fig.axes
    matplotlib.pyplot.close(fig)


def test_every_expected_verdict_names_a_claim_a_quick_page_gives(tmp_path, monkeypatch):
    """gtlib/expected_quick.json is keyed by claim id, so an id no page gives (a typo, a renamed
    claim) would silently assert nothing. Every page CI checks at the quick scale is computed here
    on tiny runs, which the test declares fitted at step 10 and generalised at step 30: the claims
    that exist only once a run generalises (a ticket from after t_gen, say) are given too."""
    tiny = {ModularArithmetic: {"task": {"p": 11, "train_fraction": 0.5}, "model": {"d_emb": 16, "d_hidden": 8}},
            SparseParity: {"task": {"n_train": 100, "n_test": 100}}, PolynomialRegression: {"task": {"n_train": 100}},
            MNIST: {"task": {"n_train": 100, "n_test": 100}}}
    for task, sizes in tiny.items():
        monkeypatch.setattr(task, "presets", {**task.presets, "quick": {"steps": 60, "eval_every": 5,
                                                                       "checkpoint_every": 20, **sizes}})
    monkeypatch.setattr(RunHistory, "t_mem", property(lambda self: 10))
    monkeypatch.setattr(RunHistory, "t_gen", property(lambda self: 30))
    monkeypatch.setenv("GTLIB_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("GTLIB_RESULTS", str(tmp_path / "none"))
    shorter = {"table1_edge_popup.ipynb": {"memorising_step": 20, "steps": 60}}  # the tiny run's checkpoints
    given = set()
    for page in pages.with_claims("quick"):
        page = {**page, "parameters": {**page["parameters"], **shorter.get(page["notebook"], {})}}
        given |= {c.id for c in pages.page_checks(page, "quick")}
    unknown = sorted(set(claims.EXPECTED) - given)
    assert not unknown, f"{claims.EXPECTED_FILE.name} names claims no page gives: {', '.join(unknown)}; " \
                        f"valid: {', '.join(sorted(given))}"


def test_table1_shows_ours_with_the_papers_number_under_it_one_column_per_step():
    import pandas as pd

    from gtlib.figures import edge_popup_table

    table = pd.DataFrame({"WD (test acc)": {"600 ours": "0.50±0.01", "600 paper": "0.53±0.04",
                                            "1,000 ours": "0.71±0.02", "1,000 paper": "0.70±0.05"},
                          "Ramanujan gap": {"600 ours": "0.120±0.003", "600 paper": "0.11",
                                            "1,000 ours": "0.100±0.002", "1,000 paper": "0.09"}}).T
    block = edge_popup_table.show(table)
    assert block.html.count("</th>") == 3  # the quantity, then one column per step (not two)
    assert "0.50±0.01<br>" in block.html and "paper 0.53±0.04" in block.html
    assert "<td>Ramanujan gap</td>" in block.html
    assert "0.100±0.002" in repr(block) and "<" not in repr(block)  # the plain-text twin
