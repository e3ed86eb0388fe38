"""Hand-written training steps: the forward pass and its gradients without autograd's per-op cost.

A full-batch step of these small models is dominated by per-operation overhead (about 3 µs each),
not arithmetic: autograd records about 300 operations per paper-MLP step and 755 per Transformer
step. The backward passes here call the *same kernels on the same tensor views* that autograd's
backward formulas call (``torch.bmm`` with ``BmmBackward0``'s operands, ``threshold_backward``,
``_softmax_backward_data``, sums in the order the autograd engine accumulates them; for the
embedding's gradient, ``index_add_``, which adds the same rows in the same order as autograd's
kernel), so a step gives exactly the weights and AdamW state of the autograd step on the same
machine and thread count (`tests/test_steps.py` compares them bit for bit). The autograd path
stays one parameter away (``gradients="autograd"`` in `gtlib.train.train`): it is the reference,
and what any model without a hand-written backward here uses.

The gradient of the cross-entropy comes in two precisions (``loss_gradient``); the loss that is
logged is the authors' float64 cross-entropy either way:

- ``"float64"`` (the default, `LOSS_GRADIENT`): the authors' float64 cross-entropy, differentiated
  as autograd does (bit for bit the autograd step, which always uses it).
- ``"float32"``: g = (softmax(z) − onehot(y)) / N in float32, with
  the correct class's entry computed as minus the sum of the other classes' probabilities, so that
  it keeps its relative precision when 1 − p_y is far below float32's epsilon (where "softmax
  collapse" would make the naive float32 gradient zero). It skips the float64 log-softmax and its
  backward at every step that is not logged. It changes rounding (about 1e-6 relative per gradient
  element), as another CPU does; why it is not the default is in the README (Speed).
"""
from __future__ import annotations

import math

import torch

from .metrics import cross_entropy, task_loss
from .models import DeepMLP, OneLayerTransformer, PaperMLP, PrunableModel
from .tasks import Dataset

GRADIENTS = ("manual", "autograd")
LOSS_GRADIENTS = ("float64", "float32")
LOSS_GRADIENT = "float64"  # the default (for `gtlib.runs`, unless $GTLIB_LOSS_GRADIENT says otherwise)
LOSS_GRADIENT_ENV = "GTLIB_LOSS_GRADIENT"


def check_choices(gradients: str, loss_gradient: str) -> None:
    if gradients not in GRADIENTS:
        raise ValueError(f"unknown gradients {gradients!r}; valid: {', '.join(GRADIENTS)}")
    if loss_gradient not in LOSS_GRADIENTS:
        raise ValueError(f"unknown loss_gradient {loss_gradient!r}; valid: {', '.join(LOSS_GRADIENTS)}")


class Step:
    """One training step's forward pass and gradients, for the models that have a hand-written
    backward (`supports`): ``step(logged)`` returns the training outputs, the per-run float64 loss
    (computed only when ``logged``: nothing else reads it, so None otherwise) and the gradients in
    the order of ``model.parameters()``; ``test_outputs(x)`` reuses the step's weight-only products."""

    def __init__(self, model: PrunableModel, data: Dataset, loss_gradient: str = LOSS_GRADIENT):
        self.model, self.data, self.loss_gradient = model, data, loss_gradient
        self.backward = {PaperMLP: _mlp_backward, OneLayerTransformer: _transformer_backward,
                         DeepMLP: _deep_mlp_backward}[type(model)]
        if data.loss == "cross_entropy":
            labels = data.y_train.expand(model.n_runs, -1).unsqueeze(-1)       # [R, N, 1]
            self.labels = labels
            # d(loss)/d(log p) of the per-run mean, as autograd computes it for the float64 loss:
            # -1/N at each example's correct class (the same for every step).
            self.d_logp = torch.zeros(*labels.shape[:2], data.n_outputs, dtype=torch.float64,
                                      device=labels.device).scatter_(-1, labels, -1 / labels.shape[1])
        else:  # the mean squared error, against one-hot targets for "mse_onehot"
            y = data.y_train
            self.targets = (y if data.loss == "mse" else
                            torch.nn.functional.one_hot(y, data.n_outputs).to(data.x_train.dtype))
        self.saved: dict = {}
        self.names = [n for n, _ in model.named_parameters()]

    @staticmethod
    def supports(model: PrunableModel, data: Dataset) -> bool:
        """A hand-written backward exists for the paper MLP, the default Transformer (no positional
        embedding, no MLP biases, one-hot inputs), both trained with cross-entropy, and the plain
        ReLU MLP with any of the losses; without edge-popup scores, on a device with float64 (not
        Apple's MPS)."""
        if model.supermask is not None or data.x_train.device.type == "mps":
            return False
        if isinstance(model, DeepMLP):
            return True
        if data.loss != "cross_entropy":
            return False
        if isinstance(model, PaperMLP):
            return True
        return (isinstance(model, OneLayerTransformer) and not model.positional and not model.mlp_bias
                and bool(((data.x_train == 0) | (data.x_train == 1)).all()))

    def __call__(self, logged: bool) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        model, saved = self.model, self.saved
        saved.clear()
        with torch.no_grad():
            logits = model(self.data.x_train, saved)
            if self.data.loss != "cross_entropy":
                d_logits = _mse_gradient(logits, self.targets)
                loss = task_loss(logits, self.data.y_train, self.data.loss) if logged else None
            elif self.loss_gradient == "float64":
                logp = torch.log_softmax(logits.to(torch.float64), dim=-1)
                loss = -logp.gather(-1, self.labels).squeeze(-1).mean(-1) if logged else None
                # LogSoftmaxBackward0, then the cast back to float32 (ToCopyBackward0)
                d_logits = torch._log_softmax_backward_data(self.d_logp, logp, -1, torch.float64)
                d_logits = d_logits.to(logits.dtype)
            else:
                d_logits = _float32_gradient(logits, self.labels)
                loss = cross_entropy(logits, self.data.y_train) if logged else None
            grads = self.backward(model, saved, d_logits)
            if model.masked:  # W ⊙ m: the gradient of W is m times that of W ⊙ m (MulBackward0)
                grads = {n: g * getattr(model, f"mask_{n}") if n in model.weight_names else g
                         for n, g in grads.items()}
        return logits, loss, [grads[n] for n in self.names]

    def test_outputs(self, x: torch.Tensor) -> torch.Tensor:
        """The forward pass on other inputs with this step's weight-only products (the weights have
        not changed since): bit for bit what ``model(x)`` gives."""
        model = self.model
        products = ((self.saved["w_in"], self.saved["w_out"]) if isinstance(model, PaperMLP)
                    else self.saved)
        with torch.no_grad():
            return model.readout(x, products)


def _mse_gradient(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """d(mean squared error)/d(outputs) as autograd computes it for `gtlib.metrics.mse`: the mean's
    1/M (M outputs per run, rounded to float32) times the square's 2·(outputs − targets)."""
    diff = (outputs - targets).reshape(outputs.shape[0], -1)
    mean = torch.ones((), dtype=diff.dtype, device=diff.device) / diff.shape[1]
    return (mean * (2.0 * diff)).view(outputs.shape)


def _float32_gradient(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """d(mean cross-entropy)/d(logits) in float32: (p − onehot(y)) / N, the correct class's entry as
    −Σ_{c≠y} p_c (exact where 1 − p_y underflows float32's epsilon)."""
    grad = torch.softmax(logits, dim=-1).scatter_(-1, labels, 0.0)
    grad.scatter_(-1, labels, -grad.sum(-1, keepdim=True))
    return grad.div_(labels.shape[1])


def _bmm_backward(a: torch.Tensor, b: torch.Tensor, grad: torch.Tensor,
                  need_a: bool = True) -> tuple[torch.Tensor | None, torch.Tensor]:
    """The gradients of ``a.bmm(b)`` as ``BmmBackward0`` computes them (the same views)."""
    return (grad.bmm(b.transpose(1, 2)) if need_a else None), a.transpose(1, 2).bmm(grad)


def _mlp_backward(model: PaperMLP, s: dict, d_logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gradients of `PaperMLP` (logits = ReLU(tokens · (W_in W_E)ᵀ) · (W_Uᵀ W_out)ᵀ) with respect
    to the effective weights."""
    R = model.n_runs
    d_hidden, d_w_out_t = _bmm_backward(s["hidden"], s["w_out"].transpose(-1, -2), d_logits)
    d_pre = torch.ops.aten.threshold_backward(d_hidden, s["hidden"], 0)
    tokens = s["tokens"].expand(R, *s["tokens"].shape[1:])  # matmul broadcasts the data's run axis
    _, d_w_in_t = _bmm_backward(tokens, s["w_in"].transpose(-1, -2), d_pre, need_a=False)
    d_W_in, d_W_E = _bmm_backward(s["W_in"], s["W_E"], d_w_in_t.transpose(-1, -2))
    d_W_U_t, d_W_out = _bmm_backward(s["W_U"].transpose(-1, -2), s["W_out"], d_w_out_t.transpose(-1, -2))
    return {"W_E": d_W_E, "W_in": d_W_in, "W_out": d_W_out, "W_U": d_W_U_t.transpose(-1, -2)}


def _lookup_backward(grad: torch.Tensor, ids: torch.Tensor, n_runs: int, p: int) -> torch.Tensor:
    """The gradient of a token table [R, p, k] from that of its rows looked up by ``ids`` [R or 1,
    M] (`gtlib.models._token_rows`: one flat embedding lookup over all runs)."""
    M = ids.shape[-1]
    flat = (ids.expand(n_runs, M) + torch.arange(n_runs, device=ids.device)[:, None] * p).reshape(-1)
    rows = grad.reshape(n_runs * M, -1)
    if rows.is_cuda:  # autograd's own kernel (`index_add_` would add in a nondeterministic order)
        table = torch.ops.aten.embedding_dense_backward(rows, flat, n_runs * p, -1, False)
    else:  # on the CPU both add the rows in index order into zeros: the same sums, 3-4x faster
        table = rows.new_zeros(n_runs * p, rows.shape[-1]).index_add_(0, flat, rows)
    return table.view(n_runs, p, -1)


def _transformer_backward(model: OneLayerTransformer, s: dict,
                          d_logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gradients of `OneLayerTransformer` (without positional embedding or MLP biases) with respect
    to the effective weights, in the order of its forward pass read backwards."""
    R, N = d_logits.shape[:2]
    p = s["W_E"].shape[-1]
    n_h, d_h = s["W_Q"].shape[1:3]
    g = {}
    d_residual, g["W_U"] = _bmm_backward(s["residual"], s["W_U"], d_logits)
    # residual = last + ReLU(last · W_inᵀ) · W_outᵀ
    d_hidden, d_w_out_t = _bmm_backward(s["hidden"], s["W_out"].transpose(-1, -2), d_residual)
    g["W_out"] = d_w_out_t.transpose(-1, -2)
    d_pre = torch.ops.aten.threshold_backward(d_hidden, s["hidden"], 0)
    d_last_mlp, d_w_in_t = _bmm_backward(s["last"], s["W_in"].transpose(-1, -2), d_pre)
    g["W_in"] = d_w_in_t.transpose(-1, -2)
    d_last = d_residual + d_last_mlp
    # last = embedding(last token) + z · W_Oᵀ
    d_z, d_w_o_t = _bmm_backward(s["z"], s["W_O"].transpose(-1, -2), d_last)
    g["W_O"] = d_w_o_t.transpose(-1, -2)
    # z = Σ_j attn_j v_j; attn = softmax((q · k_j) / sqrt(d_h)) over the two positions j
    d_prod = d_z.view(R, N, n_h, d_h).unsqueeze(2).expand(R, N, 2, n_h, d_h)
    attn = s["attn"].unsqueeze(-1)
    d_attn = (d_prod * s["v"]).sum_to_size(attn.shape).squeeze(-1)
    d_v = d_prod * attn
    d_scores = torch._softmax_backward_data(d_attn, s["attn"], 2, d_attn.dtype) / math.sqrt(d_h)
    d_qk = d_scores.unsqueeze(-1).expand(R, N, 2, n_h, d_h)
    d_q = (d_qk * s["k"]).sum_to_size(s["q"].shape)
    d_k = d_qk * s["q"]
    # The key, value and query tables, and their rows looked up for the tokens.
    ids = s["ids"]
    both, last = ids.flatten(1, 2), ids[:, :, -1]
    d_emb_last = _lookup_backward(d_last, last, R, p)
    d_emb_q, d_w_q = _bmm_backward(s["emb"], s["w_q"], _lookup_backward(d_q, last, R, p))
    d_emb_v, d_w_v = _bmm_backward(s["emb"], s["w_v"], _lookup_backward(d_v, both, R, p))
    d_emb_k, d_w_k = _bmm_backward(s["emb"], s["w_k"], _lookup_backward(d_k, both, R, p))
    # The embedding's four uses, summed in the order autograd's engine receives them.
    g["W_E"] = (((d_emb_last + d_emb_q) + d_emb_v) + d_emb_k).transpose(-1, -2)
    for name, d_w in (("W_Q", d_w_q), ("W_K", d_w_k), ("W_V", d_w_v)):
        g[name] = d_w.transpose(-1, -2).reshape(s[name].shape)
    return g


def _deep_mlp_backward(model: DeepMLP, s: dict, d_out: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gradients of `DeepMLP` (x_i = ReLU(x_{i-1} W_iᵀ + b_i), no activation after the last layer)
    with respect to the effective weights, from the last layer to the first."""
    R, n_layers, g = model.n_runs, len(model.weight_names), {}
    for i in range(n_layers, 0, -1):
        if i < n_layers:
            d_out = torch.ops.aten.threshold_backward(d_out, s[f"in_{i + 1}"], 0)
            if model.bias:  # x + b[:, None]: the engine sums the broadcast gradient to b's shape
                g[f"b_{i}"] = d_out.sum_to_size(R, 1, d_out.shape[-1]).squeeze(1)
        x = s[f"in_{i}"]
        if i == 1:  # the data: matmul broadcasts its run axis, and it needs no gradient
            x = x.expand(R, *x.shape[1:])
        d_out, d_w_t = _bmm_backward(x, s[f"W_{i}"].transpose(-1, -2), d_out, need_a=i > 1)
        g[f"W_{i}"] = d_w_t.transpose(-1, -2)
    return g
