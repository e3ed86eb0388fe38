"""`gtlib.resume.ResumeState`: split per run, stacked back, keyed by name."""
import pytest
import torch

from gtlib.config import OptimConfig
from gtlib.resume import ResumeState
from gtlib.train import AdamW


def state(step: int, runs: int, offset: float = 0.0) -> ResumeState:
    w = torch.arange(runs * 6, dtype=torch.float32).reshape(runs, 2, 3) + offset
    return ResumeState(step, {"W": w}, {"W": {"step": torch.tensor(float(step)), "exp_avg": w * 2,
                                              "exp_avg_sq": w * 3}},
                       [0, 5], {"test_acc": [[0.1 * r for r in range(runs)], [0.2 * r for r in range(runs)]]})


def test_split_then_stack_gives_the_batch_back():
    batch = state(10, 3)
    parts = [batch.split(r) for r in range(3)]
    assert all(p.weights["W"].shape == (1, 2, 3) for p in parts)
    assert parts[1].history_series["test_acc"] == [[0.1], [0.2]]
    # each part owns its storage: saving it writes one run's tensors, not the batch's
    assert parts[2].weights["W"].untyped_storage().nbytes() == 6 * 4
    again = ResumeState.stack(parts)
    assert torch.equal(again.weights["W"], batch.weights["W"])
    assert torch.equal(again.optimizer["W"]["exp_avg_sq"], batch.optimizer["W"]["exp_avg_sq"])
    assert again.optimizer["W"]["step"] == 10 and again.history_series == batch.history_series
    plain = again.as_dict()  # what torch.save writes and weights_only loading reads back
    assert set(plain) == {"step", "weights", "optimizer", "history"}
    back = ResumeState.from_dict(plain)
    assert back.step == 10 and back.weights["W"] is again.weights["W"] and back.history_steps == [0, 5]


def test_runs_resumed_from_other_steps_or_parameters_do_not_stack():
    with pytest.raises(ValueError, match=r"different steps cannot train as one batch: \[10, 20\]"):
        ResumeState.stack([state(10, 1), state(20, 1)])
    other = state(10, 1)
    other.weights = {"V": other.weights["W"]}
    with pytest.raises(ValueError, match="different parameters or series"):
        ResumeState.stack([state(10, 1), other])


def test_adamw_state_is_saved_and_resumed_by_parameter_name():
    model = torch.nn.Module()
    model.W = torch.nn.Parameter(torch.ones(2, 3))
    model.V = torch.nn.Parameter(torch.zeros(4))
    adamw = AdamW(model, OptimConfig())
    assert adamw.state_by_name() == {}  # before the first step
    adamw.step([torch.full((2, 3), 0.5), torch.ones(4)])
    saved = adamw.state_by_name()
    assert set(saved) == {"W", "V"} and set(saved["W"]) == {"step", "exp_avg", "exp_avg_sq"}
    fresh = AdamW(model, OptimConfig())
    fresh.load_state(saved)
    assert torch.equal(fresh.optimizer.state[model.W]["exp_avg"], saved["W"]["exp_avg"])
    with pytest.raises(ValueError, match="names parameters the model lacks: U; its parameters: W, V"):
        fresh.load_state({"U": saved["W"]})
