"""Models whose weights carry a leading *run* axis, so that R runs of the same shapes train together.

Every prunable weight ``W`` has shape ``[R, *shape]`` and a fixed 0/1 buffer ``mask_W`` of the same
shape; the forward pass uses ``W * mask_W`` (paper §2: f(x; θ ⊙ m)). Pruned entries stay in the
parameter tensor, get zero gradient, and are shrunk by AdamW's decoupled decay exactly as in the
authors' code, but they never reach the output.

A model's *config* is a frozen dataclass (part of a run's identity); ``config.build(data, n_runs)``
creates the module for a data set's input and output sizes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from .registry import Registry, check_positive
from .tasks import Dataset

MODELS: Registry[type] = Registry("model")


class PrunableModel(nn.Module):
    """Base class: named parameters of shape [R, *shape] with a fan-in each.

    ``prunable`` weights have a 0/1 mask buffer and are what pruners score (the paper prunes every
    weight matrix, embeddings included); ``other`` parameters (biases, a positional embedding) are
    trained but never masked.

    Initialisation (paper §3.1): θ0 ~ N(0, std = κ / sqrt(fan_in)) per matrix, κ = ``init_scale``; a
    fan-in of 0 means zeros (biases). Each run's parameters are drawn from its own generator seeded
    with that run's seed, in a fixed order, so run r of a batch gets exactly what it would get alone.
    """

    def __init__(self, n_runs: int, prunable: dict[str, tuple[tuple[int, ...], int]],
                 init_scale: float, other: dict[str, tuple[tuple[int, ...], int]] | None = None):
        super().__init__()
        self.n_runs = n_runs
        self.init_scale = init_scale
        self.fan_in = {name: fan_in for name, (_, fan_in) in {**prunable, **(other or {})}.items()}
        self.weight_names = list(prunable)
        self.score_names: list[str] = []  # edge-popup scores, once `add_scores` gives them
        self.supermask = None  # with scores: name, weight -> the weight under its score mask
        self.masked = False  # while every mask is all ones, the forward pass skips the product
        for name, (shape, _) in {**prunable, **(other or {})}.items():
            self.register_parameter(name, nn.Parameter(torch.zeros(n_runs, *shape)))
        for name, (shape, _) in prunable.items():
            self.register_buffer(f"mask_{name}", torch.ones(n_runs, *shape))

    @property
    def param_names(self) -> list[str]:
        """Every trained parameter: the prunable weights, the others, then any edge-popup scores."""
        return [*self.fan_in, *self.score_names]

    def weight(self, name: str) -> torch.Tensor:
        """The effective weight W ⊙ m used by the forward pass (and, with edge-popup scores, under
        the mask they select, `gtlib.edge_popup`)."""
        w = getattr(self, name)
        if self.masked and name in self.weight_names:
            w = w * getattr(self, f"mask_{name}")
        if self.supermask is not None and name in self.weight_names:
            w = self.supermask(self, name, w)
        return w

    def add_scores(self, supermask) -> None:
        """Give every prunable weight a trainable score ``score_<name>`` (zeros until loaded or
        initialised) and route the forward pass through ``supermask(model, name, weight)``."""
        for name in self.weight_names:
            score = f"score_{name}"
            self.register_parameter(score, nn.Parameter(torch.zeros_like(getattr(self, name))))
            self.score_names.append(score)
        self.supermask = supermask

    def init_weights(self, seeds: list[int]) -> None:
        if len(seeds) != self.n_runs:
            raise ValueError(f"need {self.n_runs} seeds, got {len(seeds)}")
        with torch.no_grad():
            for r, seed in enumerate(seeds):
                gen = torch.Generator().manual_seed(int(seed))
                for name, fan_in in self.fan_in.items():
                    w = getattr(self, name)
                    if fan_in == 0:
                        w[r].zero_()
                        continue
                    std = self.init_scale / math.sqrt(fan_in)
                    w[r].copy_(torch.randn(w.shape[1:], generator=gen) * std)

    def weights(self) -> dict[str, torch.Tensor]:
        """Every parameter (detached copies), name -> [R, *shape]: what a checkpoint holds."""
        return {n: getattr(self, n).detach().clone() for n in self.param_names}

    def masks(self) -> dict[str, torch.Tensor]:
        return {n: getattr(self, f"mask_{n}").detach().clone() for n in self.weight_names}

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for n in self.param_names:
                getattr(self, n).copy_(weights[n])

    def set_masks(self, masks: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for n in self.weight_names:
                getattr(self, f"mask_{n}").copy_(masks[n])
        self.masked = any(bool((m == 0).any()) for m in masks.values())


class PaperMLP(PrunableModel):
    """The paper's MLP (Eq. 1): logits = W_U^T (W_out ReLU(W_in (E_a + E_b))), no biases.

    Shapes follow the authors' ``OnlyMLP`` (p = vocabulary, d = ``d_emb``, H = ``d_hidden``):
    W_E [d, p] (fan-in p), W_in [H, d] (fan-in d), W_out [d, H] (fan-in H), W_U [d, p] (fan-in d).
    For p = 67, d = 500, H = 48 that is 115,000 weights.

    There is no nonlinearity between W_E and W_in, nor between W_out and W_U, so the forward pass
    multiplies those pairs first: W_in W_E is [H, p] and W_U^T W_out is [p, H], and the N examples
    then go through two products of width H instead of four of width d. It is the same function
    (the authors apply W_in to each token and sum; by linearity that is W_in W_E (e_a + e_b)) at
    about a tenth of the arithmetic; only the rounding order differs.
    """

    def __init__(self, n_runs: int, p: int, n_outputs: int, d_emb: int, d_hidden: int,
                 init_scale: float):
        super().__init__(n_runs, {
            "W_E": ((d_emb, p), p),
            "W_in": ((d_hidden, d_emb), d_emb),
            "W_out": ((d_emb, d_hidden), d_hidden),
            "W_U": ((d_emb, n_outputs), d_emb),
        }, init_scale)
        self._tokens_of: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor, saved: dict | None = None) -> torch.Tensor:
        """x: one-hot tokens [R or 1, N, 2, p] -> logits [R, N, n_outputs]. ``saved`` (a dict, for
        the hand-written backward of `gtlib.steps`) receives the intermediate tensors."""
        return self.readout(x, self.products(saved), saved)

    def products(self, saved: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The weight-only products W_in W_E [R, H, p] and W_U^T W_out [R, n_outputs, H]: one step's
        training and test forward passes share them."""
        W_E, W_in, W_out, W_U = (self.weight(n) for n in self.weight_names)
        if saved is not None:
            saved.update(W_E=W_E, W_in=W_in, W_out=W_out, W_U=W_U)
        return W_in @ W_E, W_U.transpose(-1, -2) @ W_out

    def readout(self, x: torch.Tensor, products: tuple[torch.Tensor, torch.Tensor],
                saved: dict | None = None) -> torch.Tensor:
        w_in, w_out = products
        # The same data tensor comes back every step: sum its two one-hot tokens once.
        if self._tokens_of is None or self._tokens_of[0] is not x:
            self._tokens_of = (x, x.sum(-2))
        tokens = self._tokens_of[1]                                    # [., N, p] two-hot
        hidden = torch.relu(tokens @ w_in.transpose(-1, -2))           # [R, N, H]
        if saved is not None:
            saved.update(tokens=tokens, w_in=w_in, w_out=w_out, hidden=hidden)
        return hidden @ w_out.transpose(-1, -2)


@MODELS.register("mlp")
@dataclass(frozen=True)
class MLPConfig:
    """The paper's MLP for two-token tasks: ``d_emb`` (500), ``d_hidden`` (48), κ (1.0)."""

    name: ClassVar[str] = "mlp"
    d_emb: int = 500
    d_hidden: int = 48
    init_scale: float = 1.0

    def __post_init__(self):
        for field in ("d_emb", "d_hidden"):
            check_positive(field, getattr(self, field))
        if not self.init_scale > 0:
            raise ValueError(f"init_scale must be positive, got {self.init_scale}")

    def build(self, data: Dataset, n_runs: int = 1) -> PaperMLP:
        _check_two_tokens(data, self.name)
        return PaperMLP(n_runs, data.x_train.shape[-1], data.n_outputs, self.d_emb, self.d_hidden,
                        self.init_scale)


class OneLayerTransformer(PrunableModel):
    """One layer, attention then MLP, each with a residual; no LayerNorm (paper App B.2, after
    Nanda et al.). Input: the tokens [a, b]; output: the logits at the last position.

    Shapes (d = ``d_model``, p = vocabulary, n_h heads of width d_h, m = ``d_mlp``):
    W_E [d, p], W_Q/W_K/W_V [n_h, d_h, d], W_O [d, n_h·d_h], W_in [m, d], W_out [d, m], W_U [d, p];
    optionally W_pos [2, d] and MLP biases b_in [m], b_out [d], which are trained but not pruned.
    Attention scores are scaled by 1/sqrt(d_h) with a causal mask. In a single layer the last
    position's output depends only on its own query, so only that query is computed.
    """

    def __init__(self, n_runs: int, p: int, n_outputs: int, d_model: int, d_mlp: int, n_heads: int,
                 positional: bool, mlp_bias: bool, init_scale: float):
        d_head = d_model // n_heads
        prunable = {
            "W_E": ((d_model, p), p),
            "W_Q": ((n_heads, d_head, d_model), d_model),
            "W_K": ((n_heads, d_head, d_model), d_model),
            "W_V": ((n_heads, d_head, d_model), d_model),
            "W_O": ((d_model, n_heads * d_head), n_heads * d_head),
            "W_in": ((d_mlp, d_model), d_model),
            "W_out": ((d_model, d_mlp), d_mlp),
            "W_U": ((d_model, n_outputs), d_model),
        }
        other = {}
        if positional:
            other["W_pos"] = ((2, d_model), d_model)
        if mlp_bias:
            other.update({"b_in": ((d_mlp,), 0), "b_out": ((d_model,), 0)})
        super().__init__(n_runs, prunable, init_scale, other)
        self.d_head, self.positional, self.mlp_bias = d_head, positional, mlp_bias
        self._ids_of: tuple[torch.Tensor, torch.Tensor | None] | None = None

    def forward(self, x: torch.Tensor, saved: dict | None = None) -> torch.Tensor:
        """x: one-hot tokens [R or 1, N, 2, p] -> logits [R, N, n_outputs]. ``saved`` (a dict, for
        the hand-written backward of `gtlib.steps`) receives the intermediate tensors."""
        return self.readout(x, self.products(saved), saved)

    def products(self, saved: dict | None = None) -> dict[str, torch.Tensor]:
        """The weight-only part of the forward pass: the effective weights and, since before the
        attention every row of the residual stream is a token's embedding (plus its position's), the
        tables [R, p, n_h·d_h] of every token's key, value and query (p rows rather than 2N). One
        step's training and test forward passes share them."""
        W = {n: self.weight(n) for n in self.fan_in}
        W["emb"] = W["W_E"].transpose(-1, -2)                                     # [R, p, d]
        for name in ("Q", "K", "V"):
            W[f"w_{name.lower()}"] = W[f"W_{name}"].flatten(1, 2).transpose(-1, -2)  # [R, d, n_h·d_h]
        W.update(keys=W["emb"] @ W["w_k"], values=W["emb"] @ W["w_v"], queries=W["emb"] @ W["w_q"])
        if saved is not None:
            saved.update(W)
        return W

    def readout(self, x: torch.Tensor, W: dict[str, torch.Tensor], saved: dict | None = None) -> torch.Tensor:
        R, N = self.n_runs, x.shape[1]
        n_h, d_h = W["W_Q"].shape[1:3]
        # The same data tensor comes back every step: find its token ids once.
        if self._ids_of is None or self._ids_of[0] is not x:
            self._ids_of = (x, _one_hot_ids(x))
        ids = self._ids_of[1]
        both = _token_rows(x.flatten(1, 2), None if ids is None else ids.flatten(1, 2), R)  # 2N tokens
        last_tok = _token_rows(x[:, :, -1], None if ids is None else ids[:, :, -1], R)  # N last tokens
        k = both(W["keys"]).view(R, N, 2, n_h * d_h)
        v = both(W["values"]).view(R, N, 2, n_h * d_h)
        q = last_tok(W["queries"])                                                # [R, N, n_h·d_h]
        last = last_tok(W["emb"])                                                 # [R, N, d]
        if self.positional:
            pos = W["W_pos"]                                                      # [R, 2, d]
            k = k + (pos @ W["w_k"])[:, None]
            v = v + (pos @ W["w_v"])[:, None]
            q = q + pos[:, None, -1] @ W["w_q"]
            last = last + pos[:, None, -1]
        k, v = k.view(R, N, 2, n_h, d_h), v.view(R, N, 2, n_h, d_h)
        q = q.view(R, N, 1, n_h, d_h)
        attn = torch.softmax((q * k).sum(-1) / math.sqrt(d_h), dim=2)            # [R, N, 2, n_h]
        z = (attn.unsqueeze(-1) * v).sum(2).flatten(2)                            # [R, N, n_h·d_h]
        last = last + z @ W["W_O"].transpose(-1, -2)
        pre = last @ W["W_in"].transpose(-1, -2)
        if self.mlp_bias:
            pre = pre + W["b_in"][:, None]
        hidden = torch.relu(pre)
        mlp = hidden @ W["W_out"].transpose(-1, -2)
        if self.mlp_bias:
            mlp = mlp + W["b_out"][:, None]
        if saved is not None:
            saved.update(ids=ids, q=q, k=k, v=v, attn=attn, z=z, last=last, hidden=hidden,
                         residual=last + mlp)
            return saved["residual"] @ W["W_U"]
        return (last + mlp) @ W["W_U"]


@MODELS.register("transformer")
@dataclass(frozen=True)
class TransformerConfig:
    """The one-layer Transformer. Defaults are the authors' code, which produced the paper's figures
    (SPEC §1.3): d_model 128, d_mlp 128, one head, no positional embedding, no MLP biases, about
    115,456 weights. The variant the paper's App B.2 describes (d_emb 500, W_pos, b_in and b_out) is
    ``TransformerConfig(d_model=500, positional=True, mlp_bias=True)``."""

    name: ClassVar[str] = "transformer"
    d_model: int = 128
    d_mlp: int = 128
    n_heads: int = 1
    positional: bool = False
    mlp_bias: bool = False
    init_scale: float = 1.0

    def __post_init__(self):
        for field in ("d_model", "d_mlp", "n_heads"):
            check_positive(field, getattr(self, field))
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        if not self.init_scale > 0:
            raise ValueError(f"init_scale must be positive, got {self.init_scale}")

    def build(self, data: Dataset, n_runs: int = 1) -> OneLayerTransformer:
        _check_two_tokens(data, self.name)
        return OneLayerTransformer(n_runs, data.x_train.shape[-1], data.n_outputs, self.d_model,
                                   self.d_mlp, self.n_heads, self.positional, self.mlp_bias,
                                   self.init_scale)


class DeepMLP(PrunableModel):
    """A plain ReLU MLP on flat inputs: x -> W_1 -> ReLU -> ... -> W_L (no activation at the end).

    Weights are named W_1 ... W_L with shapes [out, in] and fan-in ``in``; with ``bias`` each hidden
    layer also has a bias b_1 ... b_{L-1} (zeros at init, trained, never pruned).
    """

    def __init__(self, n_runs: int, widths: list[int], bias: bool, init_scale: float):
        prunable = {f"W_{i + 1}": ((w_out, w_in), w_in)
                    for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:]))}
        other = {f"b_{i + 1}": ((w,), 0) for i, w in enumerate(widths[1:-1])} if bias else {}
        super().__init__(n_runs, prunable, init_scale, other)
        self.bias = bias

    def forward(self, x: torch.Tensor, saved: dict | None = None) -> torch.Tensor:
        """x: [R or 1, N, d_in] -> outputs [R, N, d_out]. ``saved`` (a dict, for the hand-written
        backward of `gtlib.steps`) receives the effective weights and each layer's input."""
        return self.readout(x, self.products(saved), saved)

    def products(self, saved: dict | None = None) -> dict[str, torch.Tensor]:
        """The effective weights (a plain MLP has no weight-only products to share)."""
        W = {n: self.weight(n) for n in self.fan_in}
        if saved is not None:
            saved.update(W)
        return W

    def readout(self, x: torch.Tensor, W: dict[str, torch.Tensor], saved: dict | None = None) -> torch.Tensor:
        n_layers = len(self.weight_names)
        for i in range(1, n_layers + 1):
            if saved is not None:
                saved[f"in_{i}"] = x
            x = x @ W[f"W_{i}"].transpose(-1, -2)
            if i < n_layers:
                if self.bias:
                    x = x + W[f"b_{i}"][:, None]
                x = torch.relu(x)
        return x


@MODELS.register("deep_mlp")
@dataclass(frozen=True)
class DeepMLPConfig:
    """A ReLU MLP with hidden widths ``hidden``, for flat inputs (polynomial regression, sparse
    parity, MNIST). The paper's MNIST model is ``hidden=(200, 200), init_scale=8`` (App B.1); its
    polynomial-regression model is ``hidden=(40, 48, 500)`` (the authors' ``transfer`` branch)."""

    name: ClassVar[str] = "deep_mlp"
    hidden: tuple[int, ...] = (200, 200)
    bias: bool = False
    init_scale: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if not self.hidden or not all(isinstance(w, int) and w >= 1 for w in self.hidden):
            raise ValueError(f"hidden must be a non-empty list of positive widths, got {self.hidden!r}")
        if not self.init_scale > 0:
            raise ValueError(f"init_scale must be positive, got {self.init_scale}")

    def build(self, data: Dataset, n_runs: int = 1) -> DeepMLP:
        if data.x_train.dim() != 2:
            raise ValueError("model 'deep_mlp' needs flat input vectors (polynomial, sparse_parity, mnist)")
        widths = [data.x_train.shape[1], *self.hidden, data.n_outputs]
        return DeepMLP(n_runs, widths, self.bias, self.init_scale)


def _one_hot_ids(x: torch.Tensor) -> torch.Tensor | None:
    """The token ids of one-hot inputs x [..., p], or None when x is not one-hot (SynFlow's
    all-ones input)."""
    ids = x.argmax(-1)
    if torch.equal(torch.nn.functional.one_hot(ids, x.shape[-1]).to(x.dtype), x):
        return ids
    return None


def _token_rows(x: torch.Tensor, ids: torch.Tensor | None, n_runs: int):
    """A function table [R, p, k] -> x @ table [R, M, k] for inputs x [R or 1, M, p]: a row lookup
    by ``ids`` [R or 1, M] for one-hot inputs (no arithmetic), the product otherwise."""
    if ids is None:
        return lambda table: x @ table
    M = ids.shape[-1]
    # One flat lookup for all runs: run r's rows sit at r·p ... r·p + p - 1 of the flattened tables.
    p = x.shape[-1]
    flat = (ids.expand(n_runs, M) + torch.arange(n_runs, device=ids.device)[:, None] * p).reshape(-1)
    return lambda table: nn.functional.embedding(flat, table.reshape(n_runs * p, -1)).view(n_runs, M, -1)


def _check_two_tokens(data: Dataset, model: str) -> None:
    if data.x_train.dim() != 3 or data.x_train.shape[1] != 2:
        raise ValueError(f"model {model!r} needs two one-hot tokens per example (a modular task)")


def make_model(name: str, **params) -> object:
    """Create a model config by registered name, e.g. ``make_model("mlp", d_hidden=48)``."""
    return MODELS.create(name, **params)
