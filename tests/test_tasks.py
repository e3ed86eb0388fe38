import pytest
import torch

from gtlib.tasks import ModularArithmetic, make_task


def test_pair_counts_match_the_code_and_the_paper():
    assert len(ModularArithmetic().all_pairs()) == 2278      # authors' code: a <= b
    assert len(ModularArithmetic(pairs="a<b").all_pairs()) == 2211  # the paper's count
    assert len(ModularArithmetic(pairs="all").all_pairs()) == 67 * 67


def test_split_is_40_percent_seeded_and_disjoint():
    task = ModularArithmetic()
    train, test = task.split(0)
    assert (len(train), len(test)) == (911, 1367)
    assert not set(train) & set(test)
    assert task.split(0) == (train, test)
    assert task.split(1)[0] != train  # the split seed is the run seed, as in the authors' code


def test_labels_are_the_operation_mod_p():
    data = ModularArithmetic(op="multiply", p=7, train_fraction=0.5).build(0)
    tokens = data.x_train.argmax(-1)
    assert data.x_train.shape[1:] == (2, 7)
    assert torch.equal(data.y_train, (tokens[:, 0] * tokens[:, 1]) % 7)
    assert data.n_outputs == 7 and data.loss == "cross_entropy"


@pytest.mark.parametrize("params, message", [
    ({"p": 1}, "modulus p must be an integer >= 2"),
    ({"op": "divide"}, "valid: add, subtract, multiply, x2y2, x2xyy2"),
    ({"train_fraction": 1.0}, "train_fraction must lie in (0, 1)"),
    ({"pairs": "a>b"}, "valid: a<=b, a<b, all"),
    ({"modulus": 5}, "valid: op, p, train_fraction, pairs"),
])
def test_bad_task_parameters_fail_with_one_clear_line(params, message):
    with pytest.raises(ValueError) as err:
        make_task("modular", **params)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_unknown_task_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown task 'parity'; valid: mnist, modular, polynomial, sparse_parity"):
        make_task("parity")
