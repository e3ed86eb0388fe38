"""One full-batch training loop for R runs of the same shapes at once.

Step semantics (as the authors' loop): metrics logged at step s describe the weights after s updates,
measured *before* update s + 1; the train metrics come from the very forward pass that is then
back-propagated, so logging them costs nothing. The test set is evaluated only at logged steps.
There is no randomness inside the loop (full batch, no dropout), so a run resumed from a saved
state repeats the uninterrupted run exactly.
"""
from __future__ import annotations

from typing import Callable

import torch
from tqdm import tqdm

from . import metrics
from .config import OptimConfig
from .heap import keep_heap
from .history import History
from .metrics import task_accuracy, task_loss
from .models import PrunableModel
from .probes import start as start_probes
from .resume import ResumeState
from .steps import LOSS_GRADIENT, Step, check_choices
from .tasks import Dataset


def make_optimizer(model: PrunableModel, cfg: OptimConfig) -> torch.optim.Optimizer:
    # The fused kernel (CPU and CUDA) updates every tensor in one pass: about 4x faster than the
    # default on this model, and the same arithmetic.
    device = next(model.parameters()).device.type
    fast = {"fused": True} if device in ("cpu", "cuda") else {"foreach": True}
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas,
                             weight_decay=cfg.weight_decay, **fast)


class AdamW:
    """``torch.optim.AdamW``'s fused update without ``Optimizer.step()``'s Python wrapper (about 70
    µs a step): the same kernel with the same arguments, so the same bits. The torch optimizer keeps
    the state (its first step creates it); `state_by_name` and `load_state` save and resume it
    keyed by parameter name."""

    def __init__(self, model: PrunableModel, cfg: OptimConfig):
        self.optimizer = make_optimizer(model, cfg)
        self.group = self.optimizer.param_groups[0]
        self.params = self.group["params"]
        self.names = [name for name, _ in model.named_parameters()]  # the optimizer's order
        self.state: tuple[list, list, list] | None = None

    def state_by_name(self) -> dict[str, dict[str, torch.Tensor]]:
        """A snapshot of AdamW's tensors per parameter name (empty before the first step)."""
        return {name: {k: v.detach().clone() for k, v in self.optimizer.state[p].items()}
                for name, p in zip(self.names, self.params) if p in self.optimizer.state}

    def load_state(self, by_name: dict[str, dict[str, torch.Tensor]]) -> None:
        """Resume from `state_by_name`'s snapshot; a name the model lacks is refused."""
        unknown = sorted(set(by_name) - set(self.names))
        if unknown:
            raise ValueError(f"resume state names parameters the model lacks: {', '.join(unknown)}; "
                             f"its parameters: {', '.join(self.names)}")
        for name, param in zip(self.names, self.params):
            if name in by_name:
                self.optimizer.state[param] = {k: v.to(param.device) for k, v in by_name[name].items()}

    def step(self, grads: list[torch.Tensor]) -> None:
        """One update with ``grads`` (one per parameter, in the model's order; None for a frozen
        one, which the torch optimizer skips)."""
        group = self.group
        # contiguous, as autograd's AccumulateGrad stores a gradient (the fused kernel reads them flat)
        grads = [None if g is None else g.contiguous() for g in grads]
        if not group["fused"] or not self.optimizer.state or any(g is None for g in grads):
            # torch's own step: the first one creates the state; a frozen parameter is skipped
            for param, grad in zip(self.params, grads):
                param.grad = grad
            self.optimizer.step()
            return
        if self.state is None:
            self.state = tuple([self.optimizer.state[p][k] for p in self.params]
                               for k in ("step", "exp_avg", "exp_avg_sq"))
        steps, exp_avgs, exp_avg_sqs = self.state
        torch._foreach_add_(steps, 1)
        beta1, beta2 = group["betas"]
        torch._fused_adamw_(self.params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False,
                            lr=group["lr"], beta1=beta1, beta2=beta2,
                            weight_decay=group["weight_decay"], eps=group["eps"], maximize=False,
                            grad_scale=None, found_inf=None)


def train(model: PrunableModel, data: Dataset, optim: OptimConfig, steps: int, eval_every: int,
          checkpoint_steps: list[int] = (), *,
          on_checkpoint: Callable[[int, dict | None, ResumeState], None] | None = None,
          resume_every: int = 1000, resume: ResumeState | None = None, progress: bool = False,
          desc: str = "", probes: tuple[str, ...] = (), gradients: str = "manual",
          loss_gradient: str = LOSS_GRADIENT) -> History:
    """Train ``model`` (already initialised and masked) for ``steps`` full-batch AdamW steps.

    ``data`` tensors carry a leading run axis of size R or 1 (shared by all runs).
    At each step in ``checkpoint_steps``, before that step's update, ``on_checkpoint(step, weights,
    state)`` receives the raw weights and a resumable ``state``; every ``resume_every`` steps in
    between it receives only the state (``weights=None``), so that an interrupted run loses at most
    that many steps. Passing such a state back as ``resume`` continues the run from its step.
    ``probes`` names quantities (`gtlib.probes`) logged beside the standard series.

    ``gradients``: ``"manual"`` uses the hand-written backward of `gtlib.steps` where the model has
    one, ``"autograd"`` always autograd. ``loss_gradient`` (cross-entropy only): ``"float64"`` (the
    default: the authors' loss differentiated as autograd does, so the two ways give the same
    result bit for bit) or ``"float32"`` (`gtlib.steps`: cheaper, other rounding; hand-written
    steps only).
    """
    check_choices(gradients, loss_gradient)
    keep_heap()  # no page faults from glibc trimming the step's temporaries (`gtlib.heap`)
    adamw = AdamW(model, optim)
    opt = adamw.optimizer
    history, start = History(), 0
    if resume is not None:
        model.load_weights(resume.weights)
        adamw.load_state(resume.optimizer)
        history = History(resume.history_steps, resume.history_series)
        start = resume.step
    manual = Step(model, data, loss_gradient) if gradients == "manual" and Step.supports(model, data) else None
    checkpoints = set(checkpoint_steps)
    measures = start_probes(probes)
    bar = tqdm(total=steps, initial=start, desc=desc, disable=not progress, mininterval=2.0,
               unit="step")
    for step in range(start, steps + 1):
        save = step in checkpoints or (step % resume_every == 0 and step < steps)
        if on_checkpoint is not None and save and not (resume and step == start):
            past = history.state()
            state = ResumeState(step, model.weights(), adamw.state_by_name(), past["steps"],
                                past["series"])
            on_checkpoint(step, state.weights if step in checkpoints else None, state)
        logged = step % eval_every == 0 or step == steps
        if manual is not None:
            outputs, train_loss, grads = manual(logged)
        else:
            outputs = model(data.x_train)
            train_loss = task_loss(outputs, data.y_train, data.loss)
        if logged:
            with torch.no_grad():
                test_out = model(data.x_test) if manual is None else manual.test_outputs(data.x_test)
                l1, l2 = metrics.weight_norms({n: model.weight(n) for n in model.weight_names})
                history.append(step, {
                    "train_loss": train_loss, "train_acc": task_accuracy(outputs, data.y_train, data.loss),
                    "test_loss": task_loss(test_out, data.y_test, data.loss),
                    "test_acc": task_accuracy(test_out, data.y_test, data.loss), "l1": l1, "l2": l2,
                    **{k: v for measure in measures for k, v in measure(model, data, step).items()}})
            bar.update(step - bar.n)
        if step == steps:
            break
        if manual is None:
            opt.zero_grad(set_to_none=True)
            train_loss.sum().backward()  # runs are independent: the sum keeps their gradients apart
            grads = [p.grad for p in adamw.params]
        adamw.step(grads)
    bar.close()
    return history


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device not in ("cpu", "cuda", "mps") and not device.startswith("cuda:"):
        raise ValueError(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N, mps")
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}
    if not available[device.split(":")[0]]:
        valid = ", ".join(["auto", *(name for name, ok in available.items() if ok)])
        raise ValueError(f"device {device!r} is not available on this machine; valid here: {valid}")
    return torch.device(device)
