"""A newcomer's own task (the book page own_task): a dataclass and a decorator are all it takes, and
the page's task, composition in S4, is the group S4."""
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from gtlib import presets
from gtlib.config import from_json, to_json
from gtlib.models import DeepMLPConfig
from gtlib.runs import run
from gtlib.tasks import TASKS, Dataset

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "own_task.ipynb"


@pytest.fixture
def registry(monkeypatch):
    """The task registry, restored after the test: other tests pin the defaults of every registered
    task, so the tasks registered here must not outlive it."""
    monkeypatch.setattr(TASKS, "_items", dict(TASKS._items))
    return TASKS


def define_constant():
    """Register the smallest task there is: label 0 for ``n`` random ±1 strings of 4 bits (train and
    test alike)."""

    @TASKS.register("constant")
    @dataclass(frozen=True)
    class Constant:
        name: ClassVar[str] = "constant"
        model: ClassVar[tuple] = ("deep_mlp", {"hidden": (8,)})
        presets: ClassVar[dict] = {"quick": {"steps": 20, "eval_every": 5, "optim": {"lr": 1e-2}}}
        n: int = 10

        def build(self, seed: int) -> Dataset:
            x = torch.randint(0, 2, (2 * self.n, 4), generator=torch.Generator().manual_seed(seed)) * 2.0 - 1
            y = torch.zeros(2 * self.n, dtype=torch.long)
            return Dataset(x[:self.n], y[:self.n], x[self.n:], y[self.n:], n_outputs=2, loss="cross_entropy")

    return Constant


def test_a_dataclass_and_a_decorator_make_a_task_with_its_model_and_presets(registry, store):
    define_constant()
    cfg = presets.dense_config("constant", scale="quick")
    assert cfg.model == DeepMLPConfig(hidden=(8,))
    assert (cfg.steps, cfg.eval_every, cfg.optim.lr) == (20, 5, 1e-2)
    assert presets.dense_config("constant", scale="paper").steps == 30_000  # no preset: the defaults
    assert presets.task_model("constant") == ("deep_mlp", {"hidden": (8,)})
    assert set(presets.task_presets("constant")) == {"quick"}
    assert from_json(json.loads(json.dumps(to_json(cfg)))) == cfg  # as the store writes and reads it
    assert run(cfg, store, device="cpu", progress=False).history.steps[-1] == 20


def test_the_same_definition_again_replaces_it_and_another_one_fails(registry):
    first = define_constant()
    second = define_constant()  # a notebook cell executed twice
    assert TASKS.get("constant") is second and second is not first

    @dataclass(frozen=True)
    class Constant:  # another class (another qualified name) under a name already taken
        name: ClassVar[str] = "constant"

    with pytest.raises(ValueError, match="task 'constant' is registered twice"):
        TASKS.register("constant")(Constant)
    with pytest.raises(ValueError, match="task registered as 'other' has name = 'constant'"):
        TASKS.register("other")(Constant)


def test_an_unknown_task_names_the_valid_ones(registry):
    with pytest.raises(ValueError) as err:
        presets.dense_config("parity", scale="quick")
    assert str(err.value) == "unknown task 'parity'; valid: mnist, modular, polynomial, sparse_parity"
    define_constant()
    with pytest.raises(ValueError, match="valid: constant, mnist, modular"):
        presets.dense_config("parity", scale="quick")


def test_a_preset_for_an_unknown_scale_fails_by_name(registry, monkeypatch):
    cls = define_constant()
    monkeypatch.setattr(cls, "presets", {"quik": {"steps": 5}})
    with pytest.raises(ValueError, match="presets for unknown scale.s. quik; valid: quick, paper"):
        presets.dense_config("constant", scale="quick")


def test_a_stored_run_of_a_task_not_registered_here_is_listed_with_one_line(registry, store, monkeypatch):
    define_constant()
    cfg = presets.dense_config("constant", scale="quick")
    run(cfg, store, device="cpu", progress=False)
    monkeypatch.setattr(TASKS, "_items", {k: v for k, v in TASKS._items.items() if k != "constant"})
    row = store.listing().iloc[0]
    assert row["key"] == cfg.key and "task 'constant' is not registered in this process" in row["problem"]
    assert "\n" not in row["problem"]


# ---------------------------------------------------------------------------------------------
# The page's task, exactly as its notebook defines it

def notebook_s4():
    """Execute the notebook's registering cell (the one class it defines) and return that class."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    source = next("".join(c["source"]) for c in cells
                  if c["cell_type"] == "code" and "@TASKS.register(" in "".join(c["source"]))
    namespace = {"__name__": "own_task"}
    exec(compile(source, str(NOTEBOOK), "exec"), namespace)
    return namespace["S4Composition"]


def test_s4_is_the_symmetric_group_on_four_objects(registry):
    task = notebook_s4()()
    elements, n = task.elements, range(24)
    assert len(set(elements)) == 24 and sorted(elements) == sorted(itertools.permutations(range(4)))
    assert elements[0] == (0, 1, 2, 3)  # the identity
    for a, b in itertools.product(n, n):  # (a ∘ b)(i) = a(b(i))
        assert elements[task.compose(a, b)] == tuple(elements[a][elements[b][i]] for i in range(4))
    assert all(task.compose(0, a) == a == task.compose(a, 0) for a in n)
    assert all(any(task.compose(a, b) == 0 for b in n) for a in n)  # every element has an inverse
    table = [[task.compose(a, b) for b in n] for a in n]
    assert all(table[table[a][b]][c] == table[a][table[b][c]] for a, b, c in itertools.product(n, n, n))
    assert any(table[a][b] != table[b][a] for a, b in itertools.product(n, n))  # not commutative


def test_s4_data_are_every_pair_split_by_the_seed_with_the_product_as_label(registry):
    task = notebook_s4()()
    data = task.build(0)
    assert data.x_train.shape == (int(task.train_fraction * 576), 2, 48) and data.n_outputs == 24
    tokens = torch.cat([data.x_train, data.x_test]).argmax(-1)
    a, b = tokens[:, 0], tokens[:, 1] - 24  # b's tokens have their own ids: the MLP adds the two
    assert ((0 <= a) & (a < 24) & (0 <= b) & (b < 24)).all()
    assert len(set(zip(a.tolist(), b.tolist()))) == 576
    labels = torch.cat([data.y_train, data.y_test])
    assert labels.tolist() == [task.compose(x, y) for x, y in zip(a.tolist(), b.tolist())]
    assert not torch.equal(task.build(1).x_train, data.x_train)  # the split follows the run seed
    with pytest.raises(ValueError, match=r"train_fraction must lie in \(0, 1\)"):
        type(task)(train_fraction=1.0)


def test_the_notebook_task_runs_again_in_one_kernel_and_has_a_quick_preset(registry):
    first, second = notebook_s4(), notebook_s4()
    assert TASKS.get("s4") is second is not first
    cfg = presets.dense_config("s4", scale="quick")
    assert cfg.model.name == "mlp" and cfg.key == from_json(to_json(cfg)).key
