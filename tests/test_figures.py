"""Figure families: presets, parameters read once and equal to each notebook's, bad input refused
before any work (leaving nothing in the store), and each family's runs, checks and plot on a tiny
setting."""
import re

import matplotlib
import pytest

from gtlib import claims, pages
from gtlib.__main__ import main
from gtlib.figures import FAMILIES, across_tasks, controls, grokked_ticket, periodicity, sparsity, ticket_time
from gtlib.history import RunHistory
from gtlib.presets import dense_config
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
        grokked_ticket.runs(grokked_ticket.Params(**kwargs), store=store, progress=False)
    assert message in str(err.value)
    assert not store.root.exists()


def test_a_non_positive_step_count_is_refused():
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        dense_config(steps=0)


@pytest.mark.parametrize("family, kwargs, message", [
    (controls, {"pruners": ["random", "obd"]}, "unknown pruner 'obd'; valid:"),
    (controls, {"norm_ratio": "layer"}, "unknown norm ratio 'layer'; valid: global, per_matrix"),
    (controls, {"pruners": "snip"}, "pruners must be a list of str, got 'snip'"),
    (sparsity, {"sparsities": [0.5, 1.0]}, "must lie in [0, 1), got 1.0"),
    (sparsity, {"sparsities": [-0.1, 0.5]}, "must lie in [0, 1), got -0.1"),
    (sparsity, {"sparsities": "[0.1, 0.2"}, "sparsities must be a list of float, got '[0.1, 0.2'"),
    (ticket_time, {"checkpoint_every": 0}, "checkpoint_every must be a positive integer"),
    (across_tasks, {"ops": ["divide"]}, "unknown modular op 'divide'"),
    (across_tasks, {"scale": "paper", "task": "mnist", "ops": ["add"]}, "ops apply to the modular task only"),
    (across_tasks, {"curves": "both"}, "curves must be one of accuracy, loss (or None), got 'both'"),
    (periodicity, {"variant": "renyi"}, "unknown variant 'renyi'; valid: shannon, authors"),
    (grokked_ticket, {"seeds": "one"}, "seeds must be a list of int, got 'one'"),
])
def test_sweeps_refuse_bad_input_before_training_anything(store, family, kwargs, message):
    with pytest.raises(ValueError) as err:
        family.runs(family.Params.build(kwargs), store=store, progress=False)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert not store.root.exists()


def test_text_from_a_command_line_is_read_once_by_each_parameters_type():
    # papermill -p seeds "[0, 1]" and --param seeds=[0,1] pass text; Params reads it as its field says.
    params = across_tasks.Params.build({"seeds": "[0, 1]", "ops": "[add, x2y2]", "task_params": "{'p': 11}",
                                        "sparsity": "0.5", "model": "None", "figure": "Fig 2c"})
    assert (params.seeds, params.ops, params.task_params) == ((0, 1), ("add", "x2y2"), {"p": 11})
    assert (params.sparsity, params.model, params.figure) == (0.5, None, "Fig 2c")
    assert sparsity.Params(sparsities=[0, 0.5]).sparsities == (0.0, 0.5)  # ints where floats are due
    assert grokked_ticket.Params(mask_step="250", ticket_weight_decay="0").mask_step == 250
    assert grokked_ticket.Params(ticket_weight_decay=0).ticket_weight_decay == 0.0
    assert controls.Params(seeds=(0, 1, 2)) == controls.Params.build({"seeds": "[0, 1, 2]"})


def test_an_unknown_parameter_is_refused_in_one_line_naming_the_valid_ones(tmp_path, monkeypatch, capsys):
    with pytest.raises(ValueError) as err:
        controls.Params.build({"seed": 1, "pruners": ["snip"]})
    assert str(err.value) == ("unknown parameter(s) 'seed' for controls; valid: scale, task, model, "
                              "task_params, model_params, seeds, sparsity, pruners, norm_ratio, figures")
    monkeypatch.setenv("GTLIB_STORE", str(tmp_path / "store"))
    assert main(["grokked_ticket", "--param", "seed=1"]) == 2
    err = capsys.readouterr().err
    assert err == ("python -m gtlib grokked_ticket: unknown parameter(s) 'seed' for grokked_ticket; valid: "
                   f"{', '.join(grokked_ticket.Params.names())}\n")
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("name", FAMILIES)
def test_a_familys_params_are_its_notebooks_parameters_cell(name):
    """Same names in the same order, same defaults (the notebook's lists are the Params' tuples).
    ``device`` says where to train, not what: the notebook passes it to ``runs`` beside them."""
    family = FAMILIES[name]
    cell = pages.notebook_defaults(family.NOTEBOOK)
    assert cell.pop("device") == "auto"
    assert list(cell) == family.Params.names()
    assert family.Params.build(cell) == family.Params()


def test_the_one_list_of_families_names_every_family_a_notebook_uses():
    used = {path.name: re.search(r"from gtlib\.figures import (\w+) as family", path.read_text())
            for path in pages.NOTEBOOK_DIR.glob("*.ipynb")}
    used = {notebook: found.group(1) for notebook, found in used.items() if found}
    assert set(used.values()) == set(FAMILIES) == set(TINY_RUNS)
    assert all(used[family.NOTEBOOK] == name for name, family in FAMILIES.items())


TINY = {"task_params": {"p": 11}}


@pytest.fixture
def tiny_scale(monkeypatch):
    """The quick modular preset shrunk to a tiny model and 60 steps, so that every family trains in
    seconds."""
    from gtlib.tasks import ModularArithmetic

    tiny = {"steps": 60, "eval_every": 5, "checkpoint_every": 20, "task": {"train_fraction": 0.5},
            "model": {"d_emb": 16, "d_hidden": 8}, "optim": {"lr": 1e-2}}
    monkeypatch.setattr(ModularArithmetic, "presets", {**ModularArithmetic.presets, "quick": tiny})


TINY_RUNS = {  # family -> the parameters of each tiny case
    "grokked_ticket": [TINY],
    "across_tasks": [{**TINY, "ops": ["add", "multiply"]}],
    "sparsity": [{**TINY, "sparsities": [0.0, 0.5, 0.9]},
                 {**TINY, "sparsities": [0.5, 0.9], "ticket_weight_decay": 0.0, "figures": ["Fig 17a", "Fig 17b"]}],
    "ticket_time": [TINY],
    "controls": [{**TINY, "pruners": ["random", "snip"]}],
    "mask_dynamics": [{}],
    "graphs": [{}],
    "periodicity": [TINY],
    "weights_and_masks": [{**TINY, "pruners": ["random", "snip"]}],
    "edge_popup_table": [{"memorising_step": 20, "score_seeds": [0, 1], "steps": 100}],
}


@pytest.mark.parametrize("name, kwargs", [(name, kwargs) for name, cases in TINY_RUNS.items() for kwargs in cases])
def test_every_family_has_runs_checks_and_a_plot(store, tiny_scale, name, kwargs):
    family = FAMILIES[name]
    params = family.Params(**kwargs)
    result = family.runs(params, store=store, progress=False)
    assert all(isinstance(label, str) and group for label, group in result.labelled().items())
    checks = family.checks(result, params)
    assert checks and all(c.id and c.rule and isinstance(c.holds, bool) for c in checks)
    assert len({c.id for c in checks}) == len(checks)
    fig = family.plot(result, params)
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
