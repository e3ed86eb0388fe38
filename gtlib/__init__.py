"""gtlib: the reproducible companion to "Bridging Lottery Ticket and Grokking" (arXiv 2310.19470).

Start with `gtlib.figures` (one module per figure family: its parameters, runs, claims and plot),
`gtlib.runs.run` (any run from the store, trained if missing) and `gtlib.config.RunConfig` (a run's
identity).

Vocabulary, used everywhere in the code, the notebooks and the book:

- **dense run**: a network trained with every weight, from θ0 (the paper's "base model").
- **θ0**: the initial weights; **rewinding** resets weights to θ0.
- **mask** m: a fixed 0/1 tensor per prunable matrix; the network computes with θ ⊙ m.
- **sparsity**: the fraction of weights a mask *removes* (the paper's pruning rate k); density is
  1 − sparsity. Never "prune rate" or "k" for an amount.
- **ticket**: a run trained from θ0 ⊙ m, with m from magnitude pruning of a dense run's weights at
  **mask step** t (`MaskSpec.step`); a **grokked ticket** takes t after the dense run generalises.
- **derived run**: any run that starts from another run (its **parent**): a ticket, a norm-matched
  control, a network pruned at initialisation; `gtlib.config.derive` makes its configuration and
  `gtlib.starting_points` its starting point.
- **norm-matched control**: the dense θ0 scaled to the ticket's initial L1 or L2 norm, no mask.
- **pruning at initialisation**: a mask scored on θ0 itself (random, SNIP, GraSP, SynFlow).
- **step**: one full-batch update (the paper's "epoch"); **t_mem**, **t_gen**: the first logged
  steps with train / test accuracy above the task's threshold (95 %); **τ_grok** = t_gen / t_mem.
- **seed**: sets θ0 and the train/test split; **parity size**: the number of relevant bits of
  sparse parity (`SparseParity.k`, the only other `k`).
- **scale**: ``paper`` (the paper's recipe) or ``quick`` (a setting that groks in seconds, for CI).
- **probe**: a quantity logged during training beside the losses and accuracies (`gtlib.probes`).
- **checkpoint**: weights saved at a step; **resume point**: the state an interrupted run restarts
  from.
- **claim**: a statement of the paper decided against our runs over seeds (`gtlib.claims.Claim`): a
  rule on a per-seed statistic, each seed supporting it, contradicting it or within the rounding
  **band** (what float rounding alone does to the statistic, measured); the verdict is **robust**
  when no in-band seed could change it.

Layers (imports go downwards only): registry → tasks, models, metrics, probes, pruning → config →
history → train → store → starting_points, cluster → runs → presets, params, claims, plots,
report → figures → widgets (the explorer and the book's sliders).
"""
__version__ = "0.1.0"
