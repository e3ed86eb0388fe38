"""One module per figure family, each with the same three faces:

- ``runs(scale, task, model, ...)``: the runs behind the figure, trained where missing (parents
  first, in batches), as ``{label: [one finished Run per seed]}``;
- ``checks(runs, ...)``: the paper's claims as `gtlib.claims.Check` objects, each with its pass rule;
  the module's ``UNCHECKED`` says which claims of the paper are not checked, and why (which checks
  CI asserts at the quick scale is data: ``gtlib/expected_quick.json``, see `gtlib.claims`);
- ``plot(runs, ...)``: the figure.

| module | paper figures | notebook |
|---|---|---|
| `grokked_ticket` | 1 | `fig1_grokked_ticket.ipynb` |
| `across_tasks` | 2a-e, 10, 11 | `fig2_tasks.ipynb` |
| `sparsity` | 3a, 3b, 4b, 17 | `fig3_sparsity_sweep.ipynb` |
| `ticket_time` | 4a | `fig4_ticket_time.ipynb` |
| `controls` | 5a, 5b, 6, 12, 13, 14, 16 | `fig5_controls.ipynb` |
| `mask_dynamics` | 7, 15 | `fig7_mask_dynamics.ipynb` |
| `periodicity` | 8 | `fig8_periodicity.ipynb` |
| `graphs` | 9, 20 | `fig9_graphs.ipynb` |
| `weights_and_masks` | 18, 19 | `fig18_weights_and_masks.ipynb` |
| `edge_popup_table` | Table 1 | `table1_edge_popup.ipynb` |
"""
