"""The hand-written training steps (`gtlib.steps`) against autograd, bit for bit."""
import math

import numpy as np
import pytest
import torch

from gtlib.config import OptimConfig
from gtlib.metrics import cross_entropy
from gtlib.models import DeepMLPConfig, MLPConfig, TransformerConfig
from gtlib.steps import Step, _float32_gradient
from gtlib.tasks import TASKS, ModularArithmetic
from gtlib.train import AdamW, make_optimizer, train

# name -> (model, task, loss): every model with a hand-written step, with each loss it trains with
MODELS = {
    "mlp": (MLPConfig(d_emb=16, d_hidden=8), None, None),
    "transformer": (TransformerConfig(d_model=16, d_mlp=12), None, None),
    "transformer, 2 heads": (TransformerConfig(d_model=16, d_mlp=12, n_heads=2), None, None),
    "deep mlp, cross-entropy": (DeepMLPConfig(hidden=(12, 10)), "sparse_parity", None),
    "deep mlp with biases, mse": (DeepMLPConfig(hidden=(12, 10), bias=True), "polynomial", None),
    "deep mlp, mse on one-hot targets": (DeepMLPConfig(hidden=(12,)), "sparse_parity", "mse_onehot"),
}


def _batch(model, n_runs: int, masked: bool, device: str = "cpu"):
    """A model of ``n_runs`` runs (seeds 0 ... R-1) and its data with a shared run axis; ``model``:
    a key of `MODELS` or a model configuration (then on modular addition)."""
    model_cfg, task, loss = MODELS[model] if isinstance(model, str) else (model, None, None)
    data = (TASKS.create(task) if task else ModularArithmetic(p=11, train_fraction=0.5)).build(0)
    if loss:
        data.loss = loss
    model = model_cfg.build(data, n_runs)
    model.init_weights(list(range(n_runs)))
    if masked:
        gen = torch.Generator().manual_seed(5)
        model.set_masks({n: (torch.rand(getattr(model, n).shape, generator=gen) > 0.4).float()
                         for n in model.weight_names})
    for name in ("x_train", "y_train", "x_test", "y_test"):
        setattr(data, name, getattr(data, name).unsqueeze(0))
    return data.to(device), model.to(device)


def _trained(model, n_runs, masked, steps=40, device="cpu", **options):
    """Weights, AdamW state and history after ``steps`` steps."""
    data, model = _batch(model, n_runs, masked, device)
    states = {}
    history = train(model, data, OptimConfig(lr=1e-2), steps, 5, [steps],
                    on_checkpoint=lambda step, w, state: states.setdefault(step, state), **options)
    return model.weights(), states[steps].optimizer, history


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
@pytest.mark.parametrize("n_runs", [1, 3])
@pytest.mark.parametrize("model", list(MODELS))
def test_a_hand_written_step_trains_exactly_as_autograd(model, n_runs, masked, threads):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        w_auto, opt_auto, h_auto = _trained(model, n_runs, masked, gradients="autograd")
        w_hand, opt_hand, h_hand = _trained(model, n_runs, masked)  # the float64 loss gradient: the default
    finally:
        torch.set_num_threads(before)
    for name in w_auto:
        assert torch.equal(w_hand[name], w_auto[name]), name
    for i, state in opt_auto.items():
        for key, value in state.items():
            assert torch.equal(opt_hand[i][key], value), (i, key)
    np.testing.assert_equal(h_hand.series, h_auto.series)  # NaN accuracies of regression included


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("model", list(MODELS))
def test_a_hand_written_step_trains_exactly_as_autograd_on_cuda(model):
    w_auto, opt_auto, h_auto = _trained(model, 3, True, device="cuda", gradients="autograd")
    w_hand, opt_hand, h_hand = _trained(model, 3, True, device="cuda", loss_gradient="float64")
    assert all(torch.equal(w_hand[n], w_auto[n]) for n in w_auto)
    assert all(torch.equal(opt_hand[i][k], v) for i, state in opt_auto.items() for k, v in state.items())
    np.testing.assert_equal(h_hand.series, h_auto.series)  # NaN accuracies of regression included


def test_the_hand_written_step_is_used_and_models_without_one_fall_back():
    for name in MODELS:
        assert Step.supports(*_batch(name, 2, False)[::-1]), name
    text = TransformerConfig(d_model=16, d_mlp=12, positional=True, mlp_bias=True)  # the paper's text
    data, model = _batch(text, 1, False)
    assert not Step.supports(model, data)
    # the fallback trains with autograd, whatever `gradients` says
    w_auto, _, _ = _trained(text, 2, True, gradients="autograd")
    w_hand, _, _ = _trained(text, 2, True)
    assert all(torch.equal(w_hand[n], w_auto[n]) for n in w_auto)


def test_adamw_without_the_wrapper_updates_exactly_as_torch():
    _, a = _batch("mlp", 2, False)
    _, b = _batch("mlp", 2, False)
    ours, theirs = AdamW(a, OptimConfig(lr=1e-2)), make_optimizer(b, OptimConfig(lr=1e-2))
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        grads = [torch.randn(p.shape, generator=gen) for p in a.parameters()]
        ours.step(grads)
        for p, g in zip(b.parameters(), grads):
            p.grad = g
        theirs.step()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    for p, q in zip(a.parameters(), b.parameters()):
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(ours.optimizer.state[p][key], theirs.state[q][key])


def test_the_float32_loss_gradient_is_the_float64_one_up_to_float32_rounding():
    data, model = _batch("mlp", 2, False)
    exact = Step(model, data, loss_gradient="float64")(logged=True)
    cheap = Step(model, data, loss_gradient="float32")(logged=True)
    assert torch.equal(cheap[0], exact[0]) and torch.equal(cheap[1], exact[1])  # the float64 loss
    for g32, g64 in zip(cheap[2], exact[2]):
        assert not torch.equal(g32, g64)
        torch.testing.assert_close(g32, g64, rtol=1e-4, atol=1e-7)
    assert Step(model, data, loss_gradient="float32")(logged=False)[1] is None  # no loss unless logged
    assert Step(model, data, loss_gradient="float64")(logged=False)[1] is None


def test_the_float32_loss_gradient_keeps_its_precision_on_confident_examples():
    """Where 1 - p_y is far below float32's epsilon, the correct class's gradient p_y - 1 must not
    collapse to 0 (as (softmax - onehot) in float32 does): it is minus the sum of the others."""
    margins = torch.tensor([5.0, 20.0, 30.0, 60.0])
    logits = torch.zeros(1, 4, 3)
    logits[0, :, 0] = margins                                     # class 0 correct, by a margin
    labels = torch.zeros(1, 4, 1, dtype=torch.long)
    grad = _float32_gradient(logits, labels)[0, :, 0] * 4         # times N: p_y - 1
    exact = -2 * torch.exp(-margins.double()) / (1 + 2 * torch.exp(-margins.double()))
    torch.testing.assert_close(grad.double(), exact, rtol=1e-6, atol=0)
    naive = (torch.softmax(logits, -1)[0, :, 0] - 1)
    assert naive[-1] == 0 and grad[-1] != 0


def test_the_float32_path_logs_the_float64_loss():
    data, model = _batch("transformer", 1, False)
    history = train(model, data, OptimConfig(lr=1e-2), 10, 5, loss_gradient="float32")
    with torch.no_grad():
        assert math.isclose(history.series["train_loss"][-1][0],
                            cross_entropy(model(data.x_train), data.y_train).item(), rel_tol=0, abs_tol=0)


@pytest.mark.parametrize("option, value", [("gradients", "backprop"), ("loss_gradient", "float16")])
def test_an_unknown_choice_is_refused_in_one_line_before_training(option, value):
    data, model = _batch("mlp", 1, False)
    before = model.weights()
    with pytest.raises(ValueError, match="valid: ") as err:
        train(model, data, OptimConfig(), 5, 5, **{option: value})
    assert "\n" not in str(err.value)
    assert all(torch.equal(before[n], w) for n, w in model.weights().items())
