import numpy as np
import pytest
import torch

from gtlib import metrics


def test_first_step_above_is_strict_and_none_when_never():
    steps = [0, 10, 20, 30]
    assert metrics.first_step_above(steps, [0.1, 0.95, 0.96, 1.0]) == 20
    assert metrics.first_step_above(steps, [0.1, 0.2, 0.3, 0.9]) is None
    assert metrics.first_step_below(steps, [3.0, 2.0, 0.5, 0.1], 1.0) == 20


def test_tau_grok():
    assert metrics.tau_grok(100, 2500) == 25.0
    assert metrics.tau_grok(0, 50) == 50.0  # fitted before any update: counted as one step
    assert metrics.tau_grok(100, None) is None


def test_cross_entropy_matches_torch_in_float64():
    logits = torch.randn(2, 5, 7)
    labels = torch.randint(0, 7, (1, 5))
    ours = metrics.cross_entropy(logits, labels)
    assert ours.dtype == torch.float64
    for r in range(2):
        ref = torch.nn.functional.cross_entropy(logits[r].double(), labels[0])
        assert ours[r].item() == pytest.approx(ref.item(), rel=1e-12)


def test_float64_loss_does_not_underflow_at_perfect_fit():
    logits = torch.zeros(1, 1, 3)
    logits[0, 0, 0] = 20.0  # float32 log-softmax rounds this loss (about 4e-9) to exactly 0
    assert torch.log_softmax(logits, -1)[0, 0, 0].item() == 0.0
    assert metrics.cross_entropy(logits, torch.tensor([[0]])).item() > 0


def test_accuracy_and_norms():
    logits = torch.tensor([[[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]])
    assert metrics.accuracy(logits, torch.tensor([[1, 0, 0, 0]])).tolist() == [0.75]
    l1, l2 = metrics.weight_norms({"a": torch.tensor([[3.0, -4.0]]), "b": torch.tensor([[[0.0]]])})
    assert (l1.item(), l2.item()) == (7.0, 5.0)
    assert np.isclose(metrics.mse(torch.ones(1, 2, 1), torch.zeros(1, 2, 1)).item(), 1.0)


def test_regression_times_use_the_loss_threshold():
    from gtlib.history import RunHistory

    nan = np.full(4, np.nan)
    h = RunHistory(np.array([0, 10, 20, 30]), {
        "train_acc": nan, "test_acc": nan,
        "train_loss": np.array([5.0, 0.09, 0.01, 0.001]), "test_loss": np.array([5.0, 0.5, 0.2, 0.05])})
    assert h.is_regression
    assert (h.t_mem, h.t_gen) == (10, 30)
    assert metrics.LOSS_THRESHOLD == 0.1
