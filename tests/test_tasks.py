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


def test_sparse_parity_labels_are_the_parity_of_the_first_k_bits():
    data = make_task("sparse_parity", n_bits=8, k=3, n_train=50, n_test=20).build(0)
    assert data.x_train.shape == (50, 8) and set(data.x_train.unique().tolist()) == {-1.0, 1.0}
    odd = (data.x_train[:, :3] < 0).sum(1) % 2 == 1
    assert torch.equal(data.y_train, odd.long())
    assert data.n_outputs == 2 and len(data.y_test) == 20


def test_polynomial_regression_target():
    data = make_task("polynomial", dim=5, n_train=30, n_test=10).build(3)
    assert data.x_train.shape == (30, 5) and data.y_train.shape == (30, 1) and data.loss == "mse"
    # y = (x·β)²/2 for one β: the targets are a quadratic form of the inputs, so recover β up to sign
    x, y = data.x_train.double(), data.y_train[:, 0].double()
    features = torch.stack([x[:, i] * x[:, j] for i in range(5) for j in range(i, 5)], 1)
    coef = torch.linalg.lstsq(features, y[:, None]).solution
    assert torch.allclose(features @ coef, y[:, None], atol=1e-4)


@pytest.mark.parametrize("params, message", [
    (("sparse_parity", {"k": 31}), "parity size k (31) cannot exceed n_bits (30)"),
    (("sparse_parity", {"n_bits": 0}), "n_bits must be a positive integer"),
    (("polynomial", {"dim": -2}), "dim must be a positive integer, got -2"),
    (("mnist", {"source": "web"}), "unknown MNIST source 'web'; valid: embedded, idx"),
    (("modular", {"train_fraction": 0.0}), "train_fraction must lie in (0, 1)"),
])
def test_task_parameters_are_validated(params, message):
    name, kwargs = params
    with pytest.raises(ValueError) as err:
        make_task(name, **kwargs)
    assert message in str(err.value)
